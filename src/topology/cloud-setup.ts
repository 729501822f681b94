// Whether lbtopo compares with a cloud, decided once at start: LBTOPO_CLOUD (else OS_CLOUD) names a
// clouds.yaml cloud, or the OS_* variables describe one; neither: no cloud, and lbtopo works on
// the host alone. A cloud that is named but cannot be read (no clouds.yaml, no such cloud, a
// missing password) stops the start with a ConfigError, as any other bad setting does.
import type { Config } from '../config.ts';
import { ConfigError } from '../config.ts';
import { resolveCloud } from '../cloud/clouds-config.ts';
import { CloudError } from '../cloud/http.ts';
import { createCloudClient } from '../cloud/client.ts';
import { defineCloudProbes } from './cloud-probes.ts';
import type { CloudProbes } from './cloud-probes.ts';

export function cloudProbesFor(config: Config, env: NodeJS.ProcessEnv = process.env): CloudProbes | null {
  let settings;
  try {
    settings = resolveCloud(config.cloud, env);
  } catch (err) {
    if (err instanceof CloudError) throw new ConfigError(`LBTOPO_CLOUD: ${err.message}`);
    throw err;
  }
  return settings ? defineCloudProbes(config, createCloudClient(settings, config.cloudTimeoutMs)) : null;
}
