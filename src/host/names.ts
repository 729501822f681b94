// Validation of every name before it reaches a command or a path. Namespace names go to `ip -n`,
// bridge names to ovs-vsctl, ids into file paths: refuse anything that could be an option, a path
// or a surprise.

/** iproute2 refuses names longer than NAME_MAX; we also refuse '/', whitespace and shell metacharacters. */
const NAMESPACE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,254}$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Linux interface names: 1..15 chars, no '/', ':' or whitespace. */
const IFNAME = /^[A-Za-z0-9_.@-]{1,15}$/;
const OVS_NAME = /^[A-Za-z0-9_.:-]{1,255}$/;

export function isValidNamespaceName(name: string): boolean {
  return NAMESPACE_NAME.test(name) && name !== '.' && name !== '..';
}
export function isUuid(id: string): boolean {
  return UUID.test(id);
}
export function isValidInterfaceName(name: string): boolean {
  return IFNAME.test(name);
}
export function isValidOvsName(name: string): boolean {
  return OVS_NAME.test(name);
}
export function isValidPid(pid: number): boolean {
  return Number.isInteger(pid) && pid > 0 && pid <= 4_194_304;
}
