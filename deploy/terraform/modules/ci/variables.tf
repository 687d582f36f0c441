variable "name" {
  description = "Name prefix, e.g. txv-prod."
  type        = string
}

variable "environment" {
  description = "GitHub environment whose jobs may assume the deploy role (dev or prod)."
  type        = string
}

variable "github_repository" {
  description = "owner/name of the GitHub repository."
  type        = string
}

variable "create_github_oidc_provider" {
  description = "Create the account's token.actions.githubusercontent.com provider (one per account)."
  type        = bool
  default     = true
}

variable "repository_name" {
  description = "ECR repository name."
  type        = string
  default     = "txv"
}

variable "pull_principal_arns" {
  description = "Other accounts' roles allowed to pull from this repository (prod's deploy role copies dev's images by digest)."
  type        = list(string)
  default     = []
}

variable "cluster_arn" {
  description = "EKS cluster the deploy role may describe."
  type        = string
}

variable "helm_values_parameter_arn" {
  description = "SSM parameter with Terraform's Helm values, readable by the deploy role."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
