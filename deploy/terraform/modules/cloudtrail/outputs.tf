output "trail_arn" {
  description = "Trail ARN."
  value       = aws_cloudtrail.this.arn
}

output "bucket_name" {
  description = "Bucket holding the trail."
  value       = aws_s3_bucket.this.id
}
