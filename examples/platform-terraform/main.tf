# A platform repo that does not use cdktf: healstack's recovery as a plain Terraform module,
# built from the platform's own playbook (playbooks/web-instance-recovery.yaml).
#
# Build the module into ./module (rebuild it after upgrading healstack or editing a playbook):
#   healstack module build --playbook playbooks/web-instance-recovery.yaml --out module
# Then, as with any root module:
#   terraform init && terraform plan

terraform {
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0" # the module is built and validated against this provider
    }
  }

  # The platform's own state; the module never configures a backend.
  # backend "s3" {
  #   bucket       = "acme-terraform-state"
  #   key          = "platform/recovery-prod.tfstate"
  #   region       = "eu-west-1"
  #   use_lockfile = true
  # }
}

# The module configures no provider: it uses this one (region, credentials, default tags).
provider "aws" {
  region = var.region

  default_tags {
    tags = {
      owner = "platform-team"
    }
  }
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "stage" {
  type    = string
  default = "sandbox"
}

module "recovery" {
  source = "./module"

  name_prefix        = "acme"
  stage              = var.stage
  tags               = { team = "platform", cost-center = "ops-42" }
  log_retention_days = 400
  notify_emails = {
    "web-instance-recovery" = ["oncall@acme.example", "web-oncall@acme.example"]
  }
}

output "recovery_state_machine_arn" {
  value = module.recovery.state_machine_arns["web-instance-recovery"]
}

output "recovery_topic_arn" {
  value = module.recovery.topic_arns["web-instance-recovery"]
}

output "recovery_dlq_url" {
  value = module.recovery.dlq_urls["web-instance-recovery"]
}
