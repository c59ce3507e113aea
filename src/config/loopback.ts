// Which bind addresses only this machine can reach: 127.0.0.0/8, ::1 (also written out in full or
// as ::ffff:127.x.y.z) and the name localhost. The admin listener may go without a token only there.
import { BlockList, isIP } from "node:net"

const loopback = new BlockList()
loopback.addSubnet("127.0.0.0", 8, "ipv4")
loopback.addAddress("::1", "ipv6")

export const isLoopback = (host: string): boolean => {
  if (/^localhost\.?$/i.test(host)) return true
  const family = isIP(host)
  return family !== 0 && loopback.check(host, family === 6 ? "ipv6" : "ipv4")
}
