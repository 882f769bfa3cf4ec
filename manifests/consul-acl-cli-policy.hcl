# Consul ACL policy for the people and pipelines that run the `appmesh` CLI (apply, get, describe,
# delete, watch) with the default KV prefix `appmesh`:
#   consul acl policy create -name appmesh-cli -rules @manifests/consul-acl-cli-policy.hcl
#   consul acl token create -description "appmesh cli" -policy-name appmesh-cli
# and pass the token's SecretID with --token/--token-file or CONSUL_HTTP_TOKEN(_FILE).

# get/describe/watch show the whole cluster state: node reports, leader, topology and task status.
key_prefix "appmesh/" {
  policy = "read"
}

# apply and delete create, change and remove task declarations; that is all a user writes. The
# agents own the rest of appmesh/cluster/, so this token cannot forge a node, a leader or a placement.
key_prefix "appmesh/cluster/tasks/" {
  policy = "write"
}

# describe shows the Consul service instances of a task and their health, which needs read on the
# services and on the nodes they run on.
service_prefix "" {
  policy = "read"
}

node_prefix "" {
  policy = "read"
}
