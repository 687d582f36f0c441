variable "name" {
  description = "Cluster name, e.g. txv-prod."
  type        = string
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.28"
}

variable "vpc_id" {
  description = "VPC ID."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets, one per AZ: control-plane ENIs and nodes."
  type        = list(string)
}

variable "public_access_cidrs" {
  description = "CIDRs allowed to reach the public API endpoint (CI runners go through OIDC + this list). Empty: private endpoint only."
  type        = list(string)
  default     = []
}

variable "node_instance_types" {
  description = "Graviton (arm64) instance types of the managed node groups."
  type        = list(string)

  validation {
    condition     = alltrue([for t in var.node_instance_types : can(regex("^[a-z]+[0-9]+g[a-z]*\\.", t))])
    error_message = "Node groups run on Graviton: instance types must be an arm64 family such as t4g, m7g, c7g or r7g."
  }
}

variable "node_group_per_az" {
  description = "One node group per AZ (prod: the cluster autoscaler can grow the AZ a pending pod needs). false: one group over all AZs."
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
  description = "Initial nodes per node group (the cluster autoscaler owns it afterwards)."
  type        = number
}

variable "node_disk_size_gb" {
  description = "Root volume size of each node (gp3, encrypted)."
  type        = number
  default     = 50
}

variable "log_retention_days" {
  description = "Retention of the control-plane log group."
  type        = number
}

variable "log_kms_key_arn" {
  description = "KMS key for the control-plane log group."
  type        = string
}

variable "app_namespace" {
  description = "Namespace txv is installed in."
  type        = string
  default     = "txv"
}

variable "app_service_account" {
  description = "Service account of txv (the chart's fullname)."
  type        = string
  default     = "txv"
}

variable "app_secret_arns" {
  description = "Secrets Manager secrets txv's service account may read (through the External Secrets Operator)."
  type        = list(string)
}

variable "app_kms_key_arns" {
  description = "KMS keys those secrets are encrypted with."
  type        = list(string)
}

variable "application_log_group_arn" {
  description = "Log group Fluent Bit ships container logs to (observability module)."
  type        = string
}

variable "alarm_topic_arn" {
  description = "SNS topic Alertmanager sends Prometheus alerts to (the one CloudWatch alarms use)."
  type        = string
}

variable "alarm_topic_kms_key_arn" {
  description = "KMS key of the alarm topic (publishers need it)."
  type        = string
}

variable "admin_role_arns" {
  description = "IAM roles (e.g. the platform team's SSO role) with cluster-admin access."
  type        = list(string)
  default     = []
}

variable "deployer_role_arn" {
  description = "IAM role CI deploys with; gets admin rights in the app namespace only."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
