variable "name" {
  description = "Name prefix, e.g. txv-prod."
  type        = string
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic (each must confirm)."
  type        = list(string)
  default     = []
}

variable "app_log_retention_days" {
  description = "Retention of the application log group (container logs shipped by Fluent Bit)."
  type        = number
}

variable "alb_name" {
  description = "Name of the ALB the AWS Load Balancer Controller creates (chart value ingress.loadBalancerName)."
  type        = string
}

variable "alb_alarms_enabled" {
  description = "The ALB exists only after the first Helm release; turn this on in the apply after it (docs/operations/deploy-and-rollback.md)."
  type        = bool
  default     = false
}

variable "alb_5xx_ratio_threshold" {
  description = "Fraction of requests answered 5xx (by the targets or the ALB) that raises the alarm."
  type        = number
  default     = 0.01
}

variable "aurora_cluster_id" {
  description = "Aurora cluster identifier."
  type        = string
}

variable "aurora_reader_count" {
  description = "Readers in the cluster (replica lag alarm only with readers)."
  type        = number
}

variable "aurora_max_connections_alarm" {
  description = "DatabaseConnections above this raises the alarm (about 80% of max_connections of the instance class)."
  type        = number
}

variable "redis_node_ids" {
  description = "ElastiCache node IDs (CacheClusterId)."
  type        = list(string)
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
