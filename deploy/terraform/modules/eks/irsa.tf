# IAM roles for service accounts. Each role trusts exactly one service account of this
# cluster's OIDC issuer.
locals {
  irsa = {
    "txv"                          = { namespace = var.app_namespace, service_account = var.app_service_account }
    "cluster-autoscaler"           = { namespace = "kube-system", service_account = "cluster-autoscaler" }
    "aws-load-balancer-controller" = { namespace = "kube-system", service_account = "aws-load-balancer-controller" }
    "ebs-csi"                      = { namespace = "kube-system", service_account = "ebs-csi-controller-sa" }
    "fluent-bit"                   = { namespace = "kube-system", service_account = "aws-for-fluent-bit" }
    "alertmanager"                 = { namespace = "monitoring", service_account = "kube-prometheus-stack-alertmanager" }
  }
  # Keys are static; the policy documents are known only when planning or applying.
  irsa_inline_policies = {
    "txv"                          = data.aws_iam_policy_document.txv.json
    "cluster-autoscaler"           = data.aws_iam_policy_document.cluster_autoscaler.json
    "aws-load-balancer-controller" = data.aws_iam_policy_document.alb_controller.json
    "fluent-bit"                   = data.aws_iam_policy_document.fluent_bit.json
    "alertmanager"                 = data.aws_iam_policy_document.alertmanager.json
  }
  irsa_managed_policies = {
    "ebs-csi" = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
  }
}

data "aws_iam_policy_document" "irsa_assume" {
  for_each = local.irsa

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.this.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:sub"
      values   = ["system:serviceaccount:${each.value.namespace}:${each.value.service_account}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "irsa" {
  for_each = local.irsa

  name               = "${var.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.irsa_assume[each.key].json
  tags               = var.tags
}

resource "aws_iam_role_policy" "irsa" {
  for_each = local.irsa_inline_policies

  name   = each.key
  role   = aws_iam_role.irsa[each.key].id
  policy = each.value
}

resource "aws_iam_role_policy_attachment" "irsa" {
  for_each = local.irsa_managed_policies

  role       = aws_iam_role.irsa[each.key].name
  policy_arn = each.value
}

# txv: read its own secrets, nothing else. The External Secrets Operator assumes this role
# with a token of txv's service account (SecretStore auth.jwt.serviceAccountRef).
data "aws_iam_policy_document" "txv" {
  statement {
    sid       = "ReadTxvSecrets"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = var.app_secret_arns
  }
  statement {
    sid       = "DecryptTxvSecrets"
    actions   = ["kms:Decrypt"]
    resources = var.app_kms_key_arns
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${data.aws_region.current.name}.amazonaws.com"]
    }
  }
}

# Cluster autoscaler: read everything, resize only this cluster's node groups.
data "aws_iam_policy_document" "cluster_autoscaler" {
  statement {
    sid = "Describe"
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeAutoScalingInstances",
      "autoscaling:DescribeLaunchConfigurations",
      "autoscaling:DescribeScalingActivities",
      "autoscaling:DescribeTags",
      "ec2:DescribeImages",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeLaunchTemplateVersions",
      "ec2:GetInstanceTypesFromInstanceRequirements",
      "eks:DescribeNodegroup",
    ]
    resources = ["*"]
  }
  statement {
    sid       = "ResizeOwnNodeGroups"
    actions   = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/k8s.io/cluster-autoscaler/${var.name}"
      values   = ["owned"]
    }
  }
}

# Fluent Bit: write container logs into the application log group only.
data "aws_iam_policy_document" "fluent_bit" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = [var.application_log_group_arn, "${var.application_log_group_arn}:*"]
  }
}

# Alertmanager: Prometheus alerts go to the same SNS topic as the CloudWatch alarms.
data "aws_iam_policy_document" "alertmanager" {
  statement {
    actions   = ["sns:Publish"]
    resources = [var.alarm_topic_arn]
  }
  statement {
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = [var.alarm_topic_kms_key_arn]
  }
}
