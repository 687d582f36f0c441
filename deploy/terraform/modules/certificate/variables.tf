variable "domain_name" {
  description = "Public hostname of the API, e.g. api.txv.example.com."
  type        = string
}

variable "route53_zone_id" {
  description = "Hosted zone in which the DNS validation records (and the API's alias) live."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
