# Everything that differs between environments is a variable here, set in envs/<env>/main.tf.

variable "environment" {
  description = "Environment name (dev, prod); also the GitHub environment of its deploy jobs."
  type        = string
}

variable "azs" {
  description = "Three availability zones."
  type        = list(string)
}

variable "vpc_cidr" {
  description = "VPC CIDR block."
  type        = string
}

variable "public_subnet_cidrs" {
  description = "Public subnets, one per AZ."
  type        = list(string)
}

variable "private_subnet_cidrs" {
  description = "Private subnets, one per AZ."
  type        = list(string)
}

variable "database_subnet_cidrs" {
  description = "Database subnets, one per AZ."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "One NAT gateway instead of one per AZ."
  type        = bool
}

variable "kubernetes_version" {
  description = "EKS version."
  type        = string
}

variable "node_instance_types" {
  description = "Graviton instance types of the node groups."
  type        = list(string)
}

variable "node_group_per_az" {
  description = "One node group per AZ."
  type        = bool
}

variable "node_min_size" {
  description = "Minimum nodes per node group."
  type        = number
}

variable "node_max_size" {
  description = "Maximum nodes per node group."
  type        = number
}

variable "node_desired_size" {
  description = "Initial nodes per node group."
  type        = number
}

variable "api_public_access_cidrs" {
  description = "CIDRs allowed to reach the EKS API endpoint publicly."
  type        = list(string)
}

variable "admin_role_arns" {
  description = "IAM roles with cluster-admin access."
  type        = list(string)
}

variable "aurora_instance_class" {
  description = "Aurora instance class."
  type        = string
}

variable "aurora_instance_count" {
  description = "Aurora instances (writer + readers)."
  type        = number
}

variable "aurora_deletion_protection" {
  description = "Aurora deletion protection."
  type        = bool
}

variable "aurora_max_connections_alarm" {
  description = "Connection count alarm threshold."
  type        = number
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
}

variable "redis_node_count" {
  description = "ElastiCache nodes (primary + replicas)."
  type        = number
}

variable "redis_snapshot_retention_days" {
  description = "ElastiCache daily snapshots kept."
  type        = number
}

variable "waf_rate_limit_per_5m" {
  description = "Requests per client IP per 5 minutes before WAF blocks it."
  type        = number
}

variable "log_retention_days" {
  description = "Retention of operational log groups (flow logs, control plane, application, WAF)."
  type        = number
}

variable "audit_log_retention_days" {
  description = "Retention of the CloudTrail log group."
  type        = number
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can be restored."
  type        = number
}

variable "domain_name" {
  description = "Public hostname of the API."
  type        = string
}

variable "route53_zone_id" {
  description = "Hosted zone of domain_name."
  type        = string
}

variable "alarm_emails" {
  description = "Addresses notified of CloudWatch alarms."
  type        = list(string)
}

variable "github_repository" {
  description = "owner/name of the GitHub repository that deploys."
  type        = string
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub OIDC provider."
  type        = bool
  default     = true
}

variable "ecr_pull_principal_arns" {
  description = "Roles of other accounts allowed to pull this environment's images."
  type        = list(string)
  default     = []
}

variable "alb_provisioned" {
  description = "Set after the first Helm release created the ALB: turns on the ALB alarms and the API's DNS alias."
  type        = bool
  default     = false
}

variable "app_namespace" {
  description = "Kubernetes namespace of txv."
  type        = string
  default     = "txv"
}
