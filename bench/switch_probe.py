#!/usr/bin/env python3
"""Switches a proxy's traffic between the blue and green pools N times and measures, for
each switch, how long the trigger took to return and how long until the first request
(on a fresh connection) was served by the new pool. Used by bench/switch_bench.sh.

Triggers:
  admin  PUT /routes/release/weights on turnout's admin API ("returns" = the call returned)
  file   a ConfigMap-style ..data symlink swap of turnout's config ("returns" = rename done)
  nginx  rewrite of nginx's config and SIGHUP to its master ("returns" = signal sent)

Prints one line: median and max of both times in milliseconds, then how many switches
never reached the new pool within 5 s. Loopback only; every loop is bounded.
"""
import argparse
import http.client
import os
import signal
import statistics
import time

PROBE_LIMIT_S = 5.0


def fetch_pool(port):
    """The body a fresh connection gets from 127.0.0.1:port ("blue"/"green"), or ""."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/", headers={"Connection": "close"})
        body = conn.getresponse().read().decode(errors="replace").strip()
        conn.close()
        return body
    except OSError:
        return ""


def admin_switch(admin, pool):
    host, port = admin.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("PUT", "/routes/release/weights", body='{"%s":100}' % pool,
                 headers={"Content-Type": "application/json"})
    status = conn.getresponse().status
    conn.close()
    if status != 200:
        raise SystemExit("admin switch answered HTTP %d" % status)


def turnout_config(template, pool):
    blue, green = (100, 0) if pool == "blue" else (0, 100)
    return template.replace("@BLUE_WEIGHT@", str(blue)).replace("@GREEN_WEIGHT@", str(green))


def file_switch(config_dir, template, pool, generation):
    """Writes the config as kubelet updates a mounted ConfigMap: new ..<n> directory, new
    ..data link renamed over the old one."""
    version = "..v%d" % generation
    os.mkdir(os.path.join(config_dir, version))
    with open(os.path.join(config_dir, version, "turnout.yaml"), "w") as out:
        out.write(turnout_config(template, pool))
    temp = os.path.join(config_dir, "..data_tmp")
    if os.path.lexists(temp):
        os.unlink(temp)
    os.symlink(version, temp)
    os.rename(temp, os.path.join(config_dir, "..data"))


def nginx_switch(conf, pid, pool):
    with open(conf) as source:
        text = source.read()
    other = "green" if pool == "blue" else "blue"
    with open(conf + ".tmp", "w") as out:
        out.write(text.replace("proxy_pass http://%s;" % other, "proxy_pass http://%s;" % pool))
    os.rename(conf + ".tmp", conf)
    os.kill(pid, signal.SIGHUP)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trigger", choices=["admin", "file", "nginx"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.1, help="seconds between switches")
    parser.add_argument("--admin")
    parser.add_argument("--config-dir")
    parser.add_argument("--template")
    parser.add_argument("--nginx-conf")
    parser.add_argument("--nginx-pid", type=int)
    args = parser.parse_args()
    if not 1 <= args.n <= 10000:
        raise SystemExit("--n must be 1..10000")

    template = open(args.template).read() if args.template else ""
    returned, served, missed = [], [], 0
    for i in range(args.n):
        pool = "green" if i % 2 == 0 else "blue"
        start = time.monotonic()
        if args.trigger == "admin":
            admin_switch(args.admin, pool)
        elif args.trigger == "file":
            file_switch(args.config_dir, template, pool, 1000 + i)
        else:
            nginx_switch(args.nginx_conf, args.nginx_pid, pool)
        returned.append((time.monotonic() - start) * 1000)

        while fetch_pool(args.port) != pool:
            if time.monotonic() - start > PROBE_LIMIT_S:
                missed += 1
                break
        served.append((time.monotonic() - start) * 1000)
        time.sleep(args.gap)

    print("%.2f %.2f %.2f %.2f %d" % (statistics.median(returned), max(returned),
                                     statistics.median(served), max(served), missed))


if __name__ == "__main__":
    main()
