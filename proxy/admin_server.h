// The admin API's HTTP/1.1 server: its own listener on the control loop, small and strict
// (bounded heads and bodies, few connections), answering through AdminApi.
//
// Lifetime: created and listening before the control loop starts; close() runs on the
// loop (a ControlLoop stop hook) and closes the listener and every connection; the
// server must outlive the loop's last turn.
#pragma once

#include <uv.h>

#include <cstddef>
#include <string>

#include "config/snapshot.h"
#include "proxy/admin_api.h"

namespace turnout {

class AdminServer {
 public:
  AdminServer(uv_loop_t* loop, AdminApi& api);
  ~AdminServer();

  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and listens. False with `*error` set. Before the loop runs.
  bool listen(const SocketAddress& address, std::string* error);

  // The bound address (with the kernel's port when port 0 was asked for).
  const SocketAddress& address() const { return address_; }

  // Closes the listener and every connection. Loop thread.
  void close();

 private:
  class Connection;
  friend class Connection;

  static void onConnection(uv_stream_t* server, int status);
  static void onListenerClosed(uv_handle_t* handle);

  // Over the connection limit: closes the connection idle the longest, or `newest` when
  // every other one is in the middle of a request.
  void makeRoomFor(Connection* newest);

  uv_loop_t* loop_;
  AdminApi& api_;
  uv_tcp_t listener_;
  SocketAddress address_;
  bool open_ = false;
  bool closing_ = false;
  Connection* connections_ = nullptr;  // Intrusive list.
  size_t connection_count_ = 0;
  // Counts reads and finished writes on any connection: orders connections by recency
  // where the loop's millisecond clock would give many the same time.
  uint64_t activity_count_ = 0;
};

}  // namespace turnout
