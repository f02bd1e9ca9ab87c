// Outbox against a real socket pair: bytes arrive whole and in order whether they are
// buffered, written straight through behind a waiting head, or partly queued when the
// kernel takes only some of them.
#include "proxy/outbox.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace turnout {
namespace {

class CountingOwner : public OutboxOwner {
 public:
  void onWriteDone(int status) override {
    ++writes_done;
    last_status = status;
  }
  int writes_done = 0;
  int last_status = 0;
};

// A libuv pipe over one end of a Unix socket pair; the test reads the other end itself.
class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0);
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    ASSERT_EQ(uv_pipe_init(&loop_, &pipe_, 0), 0);
    ASSERT_EQ(uv_pipe_open(&pipe_, fds_[0]), 0);
    ::fcntl(fds_[1], F_SETFL, ::fcntl(fds_[1], F_GETFL) | O_NONBLOCK);
  }

  void TearDown() override {
    uv_close(reinterpret_cast<uv_handle_t*>(&pipe_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    ::close(fds_[1]);
  }

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&pipe_); }

  // Reads the peer end while turning the loop, until `expected` bytes came or 2,000 turns
  // passed without them.
  std::string drain(size_t expected) {
    std::string got;
    char chunk[16384];
    for (int turn = 0; turn < 2000 && got.size() < expected; ++turn) {
      uv_run(&loop_, UV_RUN_NOWAIT);
      ssize_t n = ::read(fds_[1], chunk, sizeof(chunk));
      if (n > 0) {
        got.append(chunk, static_cast<size_t>(n));
      } else {
        ::usleep(100);
      }
    }
    return got;
  }

  int fds_[2] = {-1, -1};
  uv_loop_t loop_;
  uv_pipe_t pipe_;
  CountingOwner owner_;
};

std::string pattern(size_t size, char seed) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<char>(seed + i % 61);
  }
  return bytes;
}

TEST_F(OutboxTest, SmallPartsWaitForFlush) {
  Outbox outbox(stream(), &owner_);
  outbox.append("HTTP/1.1 200 OK\r\n\r\n");
  outbox.appendWritingThrough({"hello"});

  EXPECT_FALSE(outbox.empty()) << "5 bytes are copied, not written on their own";
  ASSERT_EQ(outbox.flush(), 0);
  EXPECT_EQ(drain(24), "HTTP/1.1 200 OK\r\n\r\nhello");
}

TEST_F(OutboxTest, BodyPieceGoesOutBehindTheWaitingHeadInOneWrite) {
  Outbox outbox(stream(), &owner_);
  const std::string head = "HTTP/1.1 200 OK\r\ncontent-length: 65536\r\n\r\n";
  const std::string body = pattern(64 * 1024, 'a');
  outbox.append(head);
  outbox.appendWritingThrough({body});

  EXPECT_TRUE(outbox.empty()) << "the head went out with the body";
  EXPECT_EQ(outbox.queuedBytes(), 0u);
  EXPECT_EQ(drain(head.size() + body.size()), head + body);
}

TEST_F(OutboxTest, WhatTheKernelRefusesIsQueuedInOrder) {
  int small = 4096;
  ASSERT_EQ(::setsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
  Outbox outbox(stream(), &owner_);
  const std::string head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
  const std::string first = pattern(300 * 1024, 'A');
  const std::string second = pattern(100 * 1024, 'k');
  outbox.append(head);
  outbox.appendWritingThrough({"4b000\r\n", first, "\r\n"});
  EXPECT_GT(outbox.queuedBytes(), 0u) << "a 4 KiB send buffer cannot take 300 KiB at once";

  // Queued bytes are in front, so the next piece must wait behind them, copied.
  outbox.appendWritingThrough({second});
  ASSERT_EQ(outbox.flush(), 0);

  const std::string expected = head + "4b000\r\n" + first + "\r\n" + second;
  EXPECT_EQ(drain(expected.size()), expected);
  EXPECT_EQ(outbox.queuedBytes(), 0u);
  EXPECT_GE(owner_.writes_done, 1);
  EXPECT_EQ(owner_.last_status, 0);
}

}  // namespace
}  // namespace turnout
