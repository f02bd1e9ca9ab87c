// One client connection: its socket, its request parser, keep-alive and pipelining.
//
// Requests on one connection are handled one at a time, in order: the parser pauses at
// the end of each request head (until the stream has an upstream to send the body to)
// and at the end of each request (until its response is done), so pipelined requests
// wait in the input buffer and are answered in the order they came. Worker loop only.
//
// After a protocol switch (a 101 to an Upgrade request, a 2xx to CONNECT) the connection
// carries a Tunnel instead of HTTP: its reads, its FIN and its drained writes go to the
// tunnel, and it never parses HTTP again.
//
// Lifetime: created by the worker on accept; closes itself; freed in the close callback
// of its last libuv handle, after every write callback has run.
#pragma once

#include <llhttp.h>
#include <uv.h>

#include <memory>
#include <string>

#include "proxy/deadline_timer.h"
#include "proxy/message_head.h"
#include "proxy/outbox.h"
#include "proxy/stream.h"

namespace turnout {

class Tunnel;
class Worker;

// Where a request head's line ends stand between reads, for a listener that allows bare
// LFs (downstream_connection.cc, addMissingCrs).
struct HeadLineEnds {
  bool line_has_content = false;  // The current line has a byte other than CR and LF.
  bool head_has_content = false;  // Some line of the head has.
};

// What a connection needs only while a request is read and answered: the request parser,
// the head it collects, and the limits of the snapshot the request started under.
struct RequestParse {
  llhttp_t parser;
  MessageHead head;
  SnapshotPtr snapshot;  // Held while a head is parsed, for its limits.
  const ListenerDef* listener = nullptr;
  const char* chunk_start = nullptr;  // The bytes llhttp_execute is working on,
  const char* chunk_end = nullptr;    // up to here.
  uint64_t body_bytes = 0;
  uint64_t extension_bytes = 0;  // Chunk extension bytes of the current request.
  uint8_t crlf_due = 0;           // Bytes of the CRLF after a chunk's data not yet seen.
  bool bad_chunk_end = false;     // A chunk's data was followed by something else.
};

class DownstreamConnection : public OutboxOwner {
 public:
  DownstreamConnection(Worker& worker, std::string listener_name);
  ~DownstreamConnection() override;

  DownstreamConnection(const DownstreamConnection&) = delete;
  DownstreamConnection& operator=(const DownstreamConnection&) = delete;

  // Accepts from `server` and starts reading. False when the accept failed (the object
  // is then closing itself).
  bool accept(uv_stream_t* server);

  // --- Called by the stream. ---

  Outbox& outbox() { return outbox_; }

  // Writes what the stream appended to the outbox. A failed write aborts the stream
  // asynchronously, through the write callback or the next read.
  void flushOutput();

  // The stream has an upstream: go on parsing, and so forwarding, the request body.
  void resumeRequest();

  // Back-pressure: the upstream is not taking the body as fast as the client sends it.
  void pauseInput();
  void resumeInput();

  // The stream is done. With keep_alive the next request is read; otherwise the
  // connection closes once the response is written.
  void streamFinished(bool keep_alive);

  // Closes at once (the stream has nothing more to say): used for aborts. Ends a tunnel.
  void closeNow();

  // --- Called by the stream that opened a tunnel, then by the tunnel. ---

  // The stream's answer opened `tunnel`: the stream is freed after the current callback,
  // and from now on the connection carries raw bytes. `from_upstream` are the endpoint's
  // bytes after its answer's head; the client's bytes read after the request head
  // (pipelined, never parsed) go to the tunnel too.
  void startTunnel(std::unique_ptr<Tunnel> tunnel, std::string_view from_upstream);

  // Arms the connection's timer for the tunnel's idle timeout.
  void armTunnelTimer(uint64_t ms);

  // Sends FIN to the client once the queued bytes are written; reading goes on.
  void shutdownOutput();

  // Closes idle connections at once and busy ones after their current response.
  void drain();

  // Intrusive list of the worker's connections.
  DownstreamConnection* prev = nullptr;
  DownstreamConnection* next = nullptr;

 private:
  // Where the request parser is. The parser runs in Head and Body only.
  // Why a request head was refused while llhttp read it (None: llhttp's own error).
  enum class HeadError : uint8_t { None, TooLarge, TooManyLines, LineTooLong, ObsFold };

  enum class Input : uint8_t {
    Head,             // Reading a request head (or waiting for one, between requests).
    WaitingUpstream,  // Head complete; the stream is getting an upstream connection.
    Body,             // Forwarding the request body.
    RequestDone,      // The request ended; its response is still being sent.
    Tunnel,           // Raw bytes both ways (tunnel_); the parser never runs again.
    Closing,
  };

  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer);
  static void onTimer(uv_timer_t* timer);
  static void onShutdown(uv_shutdown_t* request, int status);
  static void onClose(uv_handle_t* handle);

  static int onMessageBegin(llhttp_t* parser);
  static int onUrl(llhttp_t* parser, const char* data, size_t length);
  static int onHeaderField(llhttp_t* parser, const char* data, size_t length);
  static int onHeaderValue(llhttp_t* parser, const char* data, size_t length);
  static int onHeadersComplete(llhttp_t* parser);
  static int onBody(llhttp_t* parser, const char* data, size_t length);
  static int onChunkExtension(llhttp_t* parser, const char* data, size_t length);
  static int onMessageComplete(llhttp_t* parser);
  static const llhttp_settings_t& parserSettings();

  void onWriteDone(int status) override;
  void handleRead(const char* data, size_t length);
  void handleEof(ssize_t status);  // A FIN (UV_EOF) or a read error.
  void handleTunnelEof(ssize_t status);
  void drive(const char* data, size_t length);

  // Parses what waits in pending_, then afterInput().
  void drivePending();

  // After parsing: flush both directions and decide whether to read on.
  void afterInput();
  void handlePause();

  // Scans head bytes for a line end other than CRLF; on one, answers 400, closes and
  // returns false.
  bool checkLineEnds(const char* data, size_t length);
  void startStream();
  void handleParseError(llhttp_errno_t error);
  int failHead(HeadError error);  // Records `error`; returns llhttp's stop code.
  void replyAndClose(LocalReply reply, std::string_view detail);
  void finishRequestMessage();
  void beginNextRequest();
  void updateReading();
  // Closes once the outbox is written: with `linger`, after a half-close and a lingering
  // read; without, at once (the client is known to send nothing more).
  void closeAfterFlush(bool linger = true);
  void finishClose();
  void startLingering();
  bool clientMaySendMore();
  void shrinkWhileIdle();
  void ensureParse();
  bool checkChunkEnd(const char* data, size_t length);
  bool parserRuns() const;

  // True when only spaces and tabs stand between `data` (inside the bytes llhttp is
  // parsing) and the line feed before them: a value piece there continues a folded line.
  bool followsLineStart(const char* data) const;

  // Pointers and wide fields first, then the narrow ones, so that no padding pushes the
  // object into a larger allocation class: every idle client connection costs its size.
  Worker& worker_;
  std::string listener_name_;
  uv_tcp_t tcp_;
  DeadlineTimer<&DownstreamConnection::onTimer> timer_;
  Outbox outbox_;
  std::string pending_;  // Received bytes the parser has not consumed yet.
  std::string client_ip_;
  std::unique_ptr<Stream> stream_;

  // Allocated at a request's first bytes and freed once the connection has been idle for
  // a moment (shrinkWhileIdle), so that an idle keep-alive connection does not carry a
  // parser: every idle connection costs this object's allocation class.
  std::unique_ptr<RequestParse> parse_;
  uint32_t idle_ms_ = 60000;
  Input input_ = Input::Head;
  uint8_t open_handles_ = 0;
  char previous_chunk_end_ = 0;  // The last byte of the previous execute call.
  char head_last_byte_ = 0;      // The last head byte checkLineEnds() saw.
  bool reading_ = false;
  bool input_paused_ = false;  // Back-pressure from the stream.
  bool driving_ = false;       // drive() is on the stack.
  bool close_after_flush_ = false;
  bool lingering_ = false;
  bool linger_ = true;            // How closeAfterFlush() ends: see there.
  bool peer_closed_ = false;      // The client shut down its sending side.
  bool request_started_ = false;  // A request's first byte was parsed.
  bool shrink_pending_ = false;   // The timer frees buffers first, then closes.
  bool closed_ = false;
  HeadError head_error_ = HeadError::None;
  bool allow_bare_lf_ = false;  // The listener's allow_bare_lf, read between requests.
  HeadLineEnds line_ends_;
  bool body_too_large_ = false;
  bool write_failed_ = false;
  bool request_ended_ = false;     // The current request's last byte was parsed.
  bool message_complete_ = false;  // Set by the parser; consumed by handlePause().
  bool headers_complete_ = false;  // Likewise.
  bool extensions_too_long_ = false;

  // Set only while the connection is a tunnel: allocated then, so that no idle
  // connection pays for a tunnel's state.
  std::unique_ptr<Tunnel> tunnel_;
};

}  // namespace turnout
