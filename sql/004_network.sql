-- Networks, subnets and IP address management.

-- One VXLAN network identifier per network in the whole cloud. Deleted networks keep theirs
-- until their row is purged: the tunnel may still exist on hosts until the agents converge.
CREATE UNIQUE INDEX networks_vni ON networks (((spec->>'vni')::integer)) WHERE spec ? 'vni';

-- "Is this network still in use?" before a network is deleted.
CREATE INDEX instance_nics_network_live ON instance_nics (network_id) WHERE deleted_at IS NULL;
-- Releasing an instance's addresses finds them by NIC.
CREATE INDEX ip_allocations_nic ON ip_allocations (nic_id);
-- "Does this affinity group still have members?" before it is deleted, and for placement.
CREATE INDEX instances_affinity_group_live ON instances (affinity_group_id) WHERE deleted_at IS NULL;
-- The subnets of a network, in creation order: the first one gives addresses.
CREATE INDEX subnets_network_live ON subnets (network_id, seq) WHERE deleted_at IS NULL;
