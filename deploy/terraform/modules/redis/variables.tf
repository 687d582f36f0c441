variable "name" {
  description = "Replication group ID, e.g. txv-prod."
  type        = string
}

variable "vpc_id" {
  description = "VPC ID."
  type        = string
}

variable "database_subnet_ids" {
  description = "Database subnets, one per AZ."
  type        = list(string)
}

variable "azs" {
  description = "AZs of the database subnets; nodes are placed round-robin."
  type        = list(string)
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to connect on 6379 (the EKS nodes only)."
  type        = list(string)
}

variable "engine_version" {
  description = "Redis engine version."
  type        = string
  default     = "7.1"
}

variable "node_type" {
  description = "Cache node type."
  type        = string
}

variable "node_count" {
  description = "Nodes: 1 primary + replicas. 2 or more turns on Multi-AZ with automatic failover."
  type        = number
}

variable "auth_token_secret_arn" {
  description = "Secrets Manager secret holding the AUTH token as JSON {\"token\": ...} (secrets module)."
  type        = string
}

variable "snapshot_retention_days" {
  description = "Daily snapshots kept (0 = none)."
  type        = number
}

variable "log_retention_days" {
  description = "Retention of the slow-log and engine-log groups."
  type        = number
}

variable "log_kms_key_arn" {
  description = "KMS key for the log groups."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
