variable "name" {
  description = "Web ACL name, e.g. txv-prod."
  type        = string
}

variable "rate_limit_per_5m" {
  description = "Requests one client IP may send in any 5 minutes before it is blocked. Merchants send from few IPs: size it from their peak, not from browsers."
  type        = number
}

variable "log_retention_days" {
  description = "Retention of the WAF log group."
  type        = number
}

variable "log_kms_key_arn" {
  description = "KMS key for the WAF log group."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
