# `terraform test` against a mocked AWS provider: a full plan of an environment without
# credentials or network. scripts/test-deploy.sh copies the Terraform tree to a scratch
# directory, puts this directory in envs/<env>/tests and runs `terraform test` there, when
# terraform and the hashicorp/aws provider are available offline (a provider mirror); it is
# skipped otherwise. It catches what `terraform validate` cannot: count/for_each over values
# only known at apply time, provider-side argument checks, and both branches of
# alb_provisioned.
mock_provider "aws" {
  # Mocked data sources return random strings; these ones must look like the real thing.
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111111111111" }
  }
  mock_data "aws_secretsmanager_secret_version" {
    defaults = { secret_string = "{\"token\":\"mock0123456789abcdef0123456789abcdef\"}" }
  }
  mock_data "aws_lb" {
    defaults = {
      arn_suffix = "app/txv/0123456789abcdef"
      dns_name   = "txv-123456789.us-east-1.elb.amazonaws.com"
      zone_id    = "Z35SXDOTRQ7X7K"
    }
  }
}

variables {
  domain_name       = "api.txv.example.com"
  route53_zone_id   = "Z0000000000000000000"
  alarm_emails      = ["oncall@example.com"]
  github_repository = "example/txv"
  admin_role_arns   = ["arn:aws:iam::111111111111:role/platform-admin"]
}

run "first_apply_before_the_alb_exists" {
  command = plan

  variables {
    alb_provisioned = false
  }

  assert {
    condition     = can(regex("^/txv/(dev|prod)/helm-values$", output.helm_values_parameter))
    error_message = "The Helm values parameter must be /txv/<env>/helm-values."
  }
}

run "after_the_first_helm_release" {
  command = plan

  variables {
    alb_provisioned = true
  }
}
