# Account-specific inputs; see terraform.tfvars.example.

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "domain_name" {
  description = "Public hostname of the API."
  type        = string
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone of domain_name."
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

variable "admin_role_arns" {
  description = "IAM roles with cluster-admin access (the platform team's SSO role)."
  type        = list(string)
}

variable "api_public_access_cidrs" {
  description = "CIDRs allowed to reach the EKS API publicly (office, VPN, CI egress). Empty: private endpoint only."
  type        = list(string)
  default     = []
}

variable "alb_provisioned" {
  description = "Set to true once the first Helm release has created the ALB (ALB alarms, DNS alias)."
  type        = bool
  default     = false
}

variable "prod_deploy_role_arn" {
  description = "Prod's GitHub deploy role, allowed to pull dev's images to promote them by digest. Empty until prod exists."
  type        = string
  default     = ""
}
