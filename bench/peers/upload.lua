-- wrk script for the "upload" case: every request is a POST with a 1 MiB body.
wrk.method = "POST"
wrk.body = string.rep("u", 1024 * 1024)
wrk.headers["Content-Type"] = "application/octet-stream"
