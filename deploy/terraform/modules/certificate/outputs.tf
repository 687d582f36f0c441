output "certificate_arn" {
  description = "Validated certificate ARN (chart value ingress.certificateArn)."
  value       = aws_acm_certificate_validation.this.certificate_arn
}
