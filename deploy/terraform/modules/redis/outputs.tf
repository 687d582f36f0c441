output "replication_group_id" {
  description = "Replication group ID."
  value       = aws_elasticache_replication_group.this.id
}

output "primary_endpoint" {
  description = "Primary endpoint (follows failovers)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "reader_endpoint" {
  description = "Reader endpoint."
  value       = aws_elasticache_replication_group.this.reader_endpoint_address
}

output "port" {
  description = "Redis port."
  value       = aws_elasticache_replication_group.this.port
}

output "member_cluster_ids" {
  description = "Node IDs (CloudWatch dimension CacheClusterId), <group>-001, -002, ..."
  value       = [for i in range(var.node_count) : format("%s-%03d", var.name, i + 1)]
}

output "security_group_id" {
  description = "Security group of the replication group."
  value       = aws_security_group.this.id
}
