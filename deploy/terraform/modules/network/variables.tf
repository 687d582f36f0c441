variable "name" {
  description = "Name prefix for every resource, e.g. txv-prod."
  type        = string
}

variable "cidr" {
  description = "VPC CIDR block."
  type        = string
  default     = "10.0.0.0/16"
}

variable "azs" {
  description = "Availability zones, one subnet of each tier per zone."
  type        = list(string)

  validation {
    condition     = length(var.azs) == 3
    error_message = "txv runs in exactly three availability zones."
  }
}

variable "public_subnet_cidrs" {
  description = "Public subnets (ALB, NAT gateways), one per AZ."
  type        = list(string)
}

variable "private_subnet_cidrs" {
  description = "Private subnets (EKS nodes and pods), one per AZ."
  type        = list(string)
}

variable "database_subnet_cidrs" {
  description = "Isolated subnets (Aurora, ElastiCache), one per AZ, no route to the Internet."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (dev). false: one per AZ, so an AZ outage never cuts the others' egress (prod)."
  type        = bool
}

variable "cluster_name" {
  description = "EKS cluster name, for the subnet tags the AWS Load Balancer Controller discovers subnets by."
  type        = string
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group."
  type        = number
}

variable "log_kms_key_arn" {
  description = "KMS key encrypting the flow log group (observability module)."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
