# Least-privilege Consul ACL policy for an appmesh agent (cluster mode), for the default KV prefix
# `appmesh`. Create it once and give each agent a token linked to it:
#   consul acl policy create -name appmesh-agent -rules @manifests/consul-acl-policy.hcl
#   consul acl token create -description "appmesh agent" -policy-name appmesh-agent
# and hand the agent the token's SecretID through CONSUL_HTTP_TOKEN(_FILE) or consul.token(File).

# Every agent reads the whole cluster state: tasks (what to run), node reports (who is alive), the
# leader key (the election), topology (its own placement) and status (the leader's view).
key_prefix "appmesh/" {
  policy = "read"
}

# Any main node may be elected, so every agent may write what the leader and the workers own: its node
# key, the leader key, the topology and status keys (all under appmesh/cluster/).
key_prefix "appmesh/cluster/" {
  policy = "write"
}

# Tasks are declared by users (`appmesh apply`), never by an agent: the longer prefix wins, so agents
# only read them and a compromised agent cannot change what the cluster runs.
key_prefix "appmesh/cluster/tasks/" {
  policy = "read"
}

# The agent's session (which holds its node key and, on the leader, the leader key) is created on the
# Consul node the agent talks to; that node's name is not known up front, hence the empty prefix.
# Narrow it to `session "<consul node>"` per host if each host gets its own token.
session_prefix "" {
  policy = "write"
}

# Sessions name the node's serfHealth check, node keys check session holders, and the health reads
# that decide which instances pass all need to see nodes.
node_prefix "" {
  policy = "read"
}

# Each agent registers itself as `appmesh-agent` with an HTTP check on its /healthz; its session is
# bound to that check, which is how Consul notices a dead agent within a second.
service "appmesh-agent" {
  policy = "write"
}

# Every app with a port becomes a service named after its task (or its `service.name`), so the agent
# must be able to register the names tasks use. With no naming convention that is every name; if all
# your tasks' services share a prefix, narrow this to `service_prefix "<that prefix>"` (write) and keep
# read on "" for the peer health reads.
service_prefix "" {
  policy = "write"
}
