"""Renders haproxy, keepalived and LVS configs with Octavia's own Jinja templates (Debian
python3-octavia) from the sample objects its unit tests use, and prints them as one JSON object
{shape: config text}. Run with /usr/bin/python3 (test/octavia-templates.test.ts does)."""
import json
import sys
from unittest import mock

from oslo_config import cfg

from octavia.amphorae.drivers.keepalived.jinja import jinja_cfg as keepalived_jinja
from octavia.common import constants
from octavia.common.jinja.haproxy.combined_listeners import jinja_cfg as haproxy_jinja
from octavia.common.jinja.lvs import jinja_cfg as lvs_jinja
from octavia.network import data_models as n_data_models
from octavia.tests.unit.common.sample_configs import sample_configs_combined as samples

try:
    from octavia_lib.common import constants as lib_consts
    PROMETHEUS = lib_consts.PROTOCOL_PROMETHEUS
except Exception:  # older octavia-lib
    PROMETHEUS = 'PROMETHEUS'

cfg.CONF([], project='octavia', default_config_files=[])
cfg.CONF.set_override('base_path', '/var/lib/octavia', group='haproxy_amphora')

haproxy = haproxy_jinja.JinjaTemplater(base_amp_path='/var/lib/octavia', base_crt_dir='/var/lib/octavia/certs')
out = {}

out['http'] = haproxy.render_loadbalancer_obj(samples.sample_amphora_tuple(), [samples.sample_listener_tuple()])
tls = {'cont_id_1': samples.sample_tls_container_tuple(id='tls_container_id', certificate='imaCert1', private_key='imaPrivateKey1', primary_cn='FakeCN'),
       'cont_id_ca': 'client_ca.pem', 'cont_id_crl': 'SHA_ID.pem'}
out['tls_sni'] = haproxy.render_loadbalancer_obj(
    samples.sample_amphora_tuple(),
    [samples.sample_listener_tuple(proto='TERMINATED_HTTPS', tls=True, sni=True, client_ca_cert=True, client_crl_cert=True)], tls)
out['l7'] = haproxy.render_loadbalancer_obj(samples.sample_amphora_tuple(), [samples.sample_listener_tuple(l7=True)])
out['active_standby'] = haproxy.render_loadbalancer_obj(
    samples.sample_amphora_tuple(), [samples.sample_listener_tuple(topology=constants.TOPOLOGY_ACTIVE_STANDBY, peer_port=1024)])
out['prometheus'] = haproxy.render_loadbalancer_obj(
    samples.sample_amphora_tuple(), [samples.sample_listener_tuple(proto=PROMETHEUS, include_pools=False)],
    feature_compatibility={PROMETHEUS: True})

lvs = lvs_jinja.LvsJinjaTemplater()
out['udp'] = lvs.render_loadbalancer_obj(samples.sample_listener_tuple(proto=constants.PROTOCOL_UDP, monitor_proto=constants.HEALTH_MONITOR_UDP_CONNECT, persistence_type=constants.SESSION_PERSISTENCE_SOURCE_IP, persistence_timeout=33, persistence_granularity='255.255.0.0', monitor=True))

amps = []
for ip, role, prio in (('10.0.0.1', constants.ROLE_MASTER, 100), ('10.0.0.2', constants.ROLE_BACKUP, 90)):
    amp = mock.MagicMock()
    amp.status = constants.AMPHORA_ALLOCATED
    amp.vrrp_ip = ip
    amp.role = role
    amp.vrrp_interface = 'eth1'
    amp.vrrp_id = 1
    amp.vrrp_priority = prio
    amps.append(amp)
lb = mock.MagicMock()
lb.amphorae = amps
lb.vrrp_group.vrrp_group_name = 'TESTGROUP'
lb.vrrp_group.vrrp_auth_type = constants.VRRP_AUTH_DEFAULT
lb.vrrp_group.vrrp_auth_pass = 'TESTPASSWORD'
lb.vip.ip_address = '10.1.0.5'
lb.vrrp_group.advert_int = 1
subnet = n_data_models.Subnet()
subnet.cidr = '10.1.0.0/24'
subnet.gateway_ip = '10.1.0.1'
subnet.host_routes = []
net = n_data_models.AmphoraNetworkConfig(vip_subnet=subnet)
out['keepalived_master'] = keepalived_jinja.KeepalivedJinjaTemplater().build_keepalived_config(lb, amps[0], net)
out['keepalived_backup'] = keepalived_jinja.KeepalivedJinjaTemplater().build_keepalived_config(lb, amps[1], net)

json.dump(out, sys.stdout)
