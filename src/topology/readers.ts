// Which reader answers a probe: the in-process one first (rtnetlink through our addon, OVSDB
// JSON-RPC on its socket), the command as the fallback (`ip -batch`, `ovs-vsctl`), and the answer
// says which one did and why the first could not. The fallbacks are also the test oracles
// (test/netlink-oracle.test.ts, test/ovsdb-jsonrpc.test.ts).
import { join } from 'node:path';
import type { CommandGateway } from '../host/exec.ts';
import { DiscoveryError } from '../host/errors.ts';
import { namespaceFileInode, readNamespaceNetwork } from '../host/iproute.ts';
import type { NamespaceNetwork } from '../host/iproute.ts';
import { NetlinkError, netlinkSupport, readNamespaceNetworkNetlinkWithJson } from '../host/netlink.ts';
import { jsonWithFields, withKnownJson } from '../host/known-json.ts';
import { readOvsSnapshotPreferRpc } from '../host/ovsdb-jsonrpc.ts';
import { readOvsSnapshot } from '../host/ovs.ts';
import type { OvsdbSslFiles, OvsSnapshot } from '../host/ovs.ts';
import type { OvsReplica } from './watchers.ts';

export interface ReadBy {
  /** netlink | ip, jsonrpc | ovs-vsctl. */
  reader: string;
  /** Why the in-process reader was not used, when the command answered. */
  fallbackReason?: string;
  /** OVS only: the tables came from the OVSDB monitor's replica, in step with the server since this time (ISO). */
  replicaSince?: string;
}

// readBy is absent in observations cached by older builds.
export type NetworkObservation = NamespaceNetwork & { inode?: number; readBy?: ReadBy };
export type OvsObservation = OvsSnapshot & { readBy?: ReadBy };

export interface ReaderOptions {
  netnsDir: string;
  /** 'auto' uses netlink when the addon loads; 'ip' always spawns (LBTOPO_NETLINK=off). */
  netlink: boolean;
  timeoutMs: number;
}

/**
 * One namespace's interfaces and routes. The namespace file's inode is taken first and netlink is
 * told to expect it, so the contents come from the namespace that was listed, never from one made
 * again under the same name. A namespace that is gone is reported gone (the fallback would say the
 * same); one netlink cannot enter, or an addon that did not load, falls back to ip.
 */
export async function readNamespaceNetworkBest(gateway: CommandGateway, namespace: string, options: ReaderOptions): Promise<NetworkObservation> {
  let fallbackReason: string;
  const support = netlinkSupport();
  if (!options.netlink) fallbackReason = 'netlink turned off (LBTOPO_NETLINK=off)';
  else if (!support.available) fallbackReason = `netlink unavailable: ${support.reason ?? 'the addon did not load'}`;
  else {
    const file = join(options.netnsDir, namespace);
    const inode = namespaceFileInode(file);
    if (inode === null) throw new DiscoveryError('gone', ['netlink', file], `namespace ${namespace} does not exist (any more): ${file} is not a mounted namespace`);
    try {
      const { network, json } = await readNamespaceNetworkNetlinkWithJson(namespace, file, { expectedInode: inode, timeoutMs: options.timeoutMs });
      const fields = { inode, readBy: { reader: 'netlink' } };
      // The store records the worker's JSON with these fields added, not a serialization of its own.
      return withKnownJson({ ...network, ...fields }, jsonWithFields(json, fields));
    } catch (err) {
      if (!(err instanceof NetlinkError)) throw err;
      if (err.failure === 'gone') throw new DiscoveryError('gone', ['netlink', file], err.message);
      fallbackReason = `netlink ${err.failure}: ${err.message}`;
    }
  }
  const network = await readNamespaceNetwork(gateway, namespace, { netnsDir: options.netnsDir });
  return { ...network, readBy: { reader: 'ip', fallbackReason } };
}

/**
 * The OVS snapshot: the OVSDB monitor's replica when one is in step with the server (no read at
 * all), else one JSON-RPC transact, or ovs-vsctl when the socket cannot be spoken to.
 */
export async function readOvsSnapshotBest(
  gateway: CommandGateway,
  target: string,
  options: { timeoutMs: number; jsonRpc: boolean; ssl: OvsdbSslFiles | null; replica?: OvsReplica | null },
): Promise<OvsObservation> {
  if (options.jsonRpc && options.replica) {
    return { ...options.replica.snapshot, readBy: { reader: 'jsonrpc', replicaSince: new Date(options.replica.since).toISOString() } };
  }
  if (!options.jsonRpc) {
    return { ...(await readOvsSnapshot(gateway, target, { ssl: options.ssl })), readBy: { reader: 'ovs-vsctl', fallbackReason: 'OVSDB JSON-RPC turned off (LBTOPO_OVSDB_JSONRPC=off)' } };
  }
  const result = await readOvsSnapshotPreferRpc(gateway, target, { callTimeoutMs: options.timeoutMs, connectTimeoutMs: options.timeoutMs, ssl: options.ssl });
  const readBy: ReadBy = { reader: result.source };
  if (result.rpcError) readBy.fallbackReason = result.rpcError.message;
  return { ...result.snapshot, readBy };
}
