# ACM certificate for the ALB's HTTPS listener, validated through DNS.
resource "aws_acm_certificate" "this" {
  domain_name       = var.domain_name
  validation_method = "DNS"
  key_algorithm     = "RSA_2048"
  tags              = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

# One name, no SANs: exactly one validation record.
locals {
  validation = one(aws_acm_certificate.this.domain_validation_options)
}

resource "aws_route53_record" "validation" {
  zone_id         = var.route53_zone_id
  name            = local.validation.resource_record_name
  type            = local.validation.resource_record_type
  records         = [local.validation.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  certificate_arn         = aws_acm_certificate.this.arn
  validation_record_fqdns = [aws_route53_record.validation.fqdn]
}
