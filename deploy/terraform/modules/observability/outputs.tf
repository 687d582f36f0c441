output "kms_key_arn" {
  description = "KMS key for CloudWatch log groups."
  value       = aws_kms_key.this.arn
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "application_log_group" {
  description = "Log group of the container logs."
  value       = aws_cloudwatch_log_group.application.name
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms."
  value = concat(
    aws_cloudwatch_metric_alarm.alb_5xx_ratio[*].alarm_name,
    [aws_cloudwatch_metric_alarm.aurora_cpu.alarm_name, aws_cloudwatch_metric_alarm.aurora_connections.alarm_name],
    aws_cloudwatch_metric_alarm.aurora_replica_lag[*].alarm_name,
    [for a in aws_cloudwatch_metric_alarm.redis_cpu : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.redis_memory : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.redis_evictions : a.alarm_name],
  )
}

output "application_log_group_arn" {
  description = "ARN of the container log group."
  value       = aws_cloudwatch_log_group.application.arn
}
