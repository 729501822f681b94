# The netlink addon (src/native/netlink.c): setns + rtnetlink sockets for src/host/netlink.ts.
# npm runs it through the "install" script of package.json, which tolerates a failed build: the
# product then reads namespaces with `ip -batch` and netlinkSupport() says why.
{
  "targets": [
    {
      "target_name": "lbtopo_netlink",
      "sources": ["src/native/netlink.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration", "-O2", "-fvisibility=hidden"]
    }
  ]
}
