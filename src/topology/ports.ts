// Neutron ports as the host shows them, without the Neutron API: a tap device is named
// "tap" + the first 11 characters of the port UUID (the interface driver cuts names to 14
// characters), and OVS keeps the full UUID in the Interface's external_ids:iface-id.
import type { OvsPort, OvsSnapshot } from '../host/ovs.ts';
import { ovsIndex } from './indexes.ts';

export const PORT_PREFIX = /^[0-9a-f]{8}-[0-9a-f]{2}$/;
const DEVICE_NAME = /^(tap|ns-|qr-|qg-|sg-|ha-|fg-)([0-9a-f]{8}-[0-9a-f]{2})$/;

/** The 11-character port id prefix a device name carries, or null. */
export function portPrefixOfDevice(name: string): string | null {
  return DEVICE_NAME.exec(name)?.[2] ?? null;
}

/** The tap name neutron gives a port. */
export function tapNameOfPort(portIdOrPrefix: string): string {
  return `tap${portIdOrPrefix.slice(0, 11)}`;
}

export function ifaceIdOf(port: OvsPort): string | null {
  for (const i of port.interfaces) {
    const id = i.externalIds['iface-id'];
    if (id) return id;
  }
  return null;
}

/** external_ids:attached-mac: the MAC Neutron gave the port. */
export function attachedMacOf(port: OvsPort): string | null {
  return port.interfaces.map((i) => i.externalIds['attached-mac']).find((m) => m) ?? null;
}

/** The OVS port for a device: same name for internal ports, tapX for a veth's ns-X end. */
export function ovsPortOfDevice(snapshot: OvsSnapshot, deviceName: string): OvsPort | null {
  const { byName } = ovsIndex(snapshot);
  const hit = byName.get(deviceName);
  if (hit) return hit;
  const prefix = portPrefixOfDevice(deviceName);
  return prefix ? byName.get(tapNameOfPort(prefix)) ?? null : null;
}

/** OVS ports that belong to a neutron port given by full UUID or 11-character prefix. */
export function ovsPortsOfPortId(snapshot: OvsSnapshot, idOrPrefix: string): OvsPort[] {
  const index = ovsIndex(snapshot);
  const candidates = index.byPrefix.get(idOrPrefix.slice(0, 11)) ?? [];
  if (idOrPrefix.length !== 36) return [...candidates];
  // A full id matches a port with that iface-id, or (no iface-id) one whose name carries its prefix.
  return candidates.filter((p) => {
    const id = ifaceIdOf(p);
    return id ? id === idOrPrefix : true;
  });
}

/** Neutron's dead VLAN: a port on it was never wired by the agent (unbound, dead or deleted network). */
export const DEAD_VLAN = 4095;

/** On the dead VLAN by tag, or by the trunk-only-4095 form neutron uses since 2022. */
export function isOnDeadVlan(port: OvsPort): boolean {
  return port.tag === DEAD_VLAN || (port.trunks.length === 1 && port.trunks[0] === DEAD_VLAN);
}
