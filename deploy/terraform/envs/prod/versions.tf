terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }

  # State in S3, encrypted, with S3-native locking (Terraform 1.10+). The bucket is created
  # once per account by hand: docs/operations/deploy-and-rollback.md#bootstrap.
  backend "s3" {
    bucket       = "txv-terraform-state-prod"
    key          = "txv/prod/terraform.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}
