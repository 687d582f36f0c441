variable "name" {
  description = "Trail name, e.g. txv-prod."
  type        = string
}

variable "log_retention_days" {
  description = "Days the trail's objects are kept in S3 (PCI DSS 10.5.1: at least one year)."
  type        = number
  default     = 400
}

variable "cloudwatch_retention_days" {
  description = "Retention of the trail's CloudWatch log group (the searchable copy)."
  type        = number
}

variable "log_kms_key_arn" {
  description = "KMS key of the CloudWatch log group."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
