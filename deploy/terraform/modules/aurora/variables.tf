variable "name" {
  description = "Cluster identifier, e.g. txv-prod."
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
  description = "AZs of the database subnets; instances are placed round-robin, so writer and reader never share one."
  type        = list(string)
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to connect on 5432 (the EKS nodes only)."
  type        = list(string)
}

variable "engine_version" {
  description = "Aurora PostgreSQL engine version."
  type        = string
  default     = "15.10"
}

variable "instance_class" {
  description = "Instance class of every instance."
  type        = string
}

variable "instance_count" {
  description = "Instances: 1 writer + readers. At least 2 so that a failover has somewhere to go."
  type        = number
  default     = 2

  validation {
    condition     = var.instance_count >= 2
    error_message = "Aurora runs a writer and at least one reader in another AZ."
  }
}

variable "database_name" {
  description = "Database created at cluster creation."
  type        = string
  default     = "txv"
}

variable "master_username" {
  description = "Master user; its password is generated and rotated by RDS in Secrets Manager."
  type        = string
  default     = "txv_admin"
}

variable "backup_retention_days" {
  description = "Automated backup retention (the point-in-time-restore window)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 7
    error_message = "Backups are kept at least 7 days."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the cluster (prod)."
  type        = bool
}

variable "log_retention_days" {
  description = "Retention of the exported PostgreSQL log group."
  type        = number
}

variable "log_kms_key_arn" {
  description = "KMS key for the exported PostgreSQL log group."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
