# The provider's other resources around the AD setup of ../main.tf, applied and destroyed by
# `scripts/test-terraform.sh testdata/terraform/beyond` against opaserver: server checkout and
# password settings, SaaS app checkout settings, a sudo command bundle used by a policy, a gateway
# setup token, an AD certificate request for a passwordless AD connection, and server enrollment
# tokens. Revision 2 changes a setting of each resource that updates in place.

terraform {
  required_providers {
    oktapam = {
      source = "okta/oktapam"
    }
  }
}

provider "oktapam" {}

variable "prefix" {
  description = "prefix of every name this configuration creates"
  type        = string
  default     = "tf"
}

variable "revision" {
  description = "revision of the setup: 1, 2 or 3 (3 is 2 again)"
  type        = number
  default     = 1
}

locals {
  updated = var.revision >= 2
}

data "oktapam_gateways" "all" {}

resource "oktapam_group" "linux_admins" {
  name = "${var.prefix}-linux-admins"
}

resource "oktapam_resource_group" "servers" {
  name                            = "${var.prefix}-servers"
  description                     = "Servers managed by Terraform"
  delegated_resource_admin_groups = [oktapam_group.linux_admins.id]
}

resource "oktapam_resource_group_project" "linux" {
  name                 = "${var.prefix}-linux"
  resource_group       = oktapam_resource_group.servers.id
  ssh_certificate_type = "CERT_TYPE_ED25519_01"
  account_discovery    = true
  gateway_selector     = "env=prod"
}

resource "oktapam_server_checkout_settings" "linux" {
  resource_group               = oktapam_resource_group.servers.id
  project                      = oktapam_resource_group_project.linux.id
  checkout_required            = true
  checkout_duration_in_seconds = local.updated ? 1800 : 900
  include_list                 = local.updated ? ["root", "pamadmin"] : ["root"]
}

resource "oktapam_password_settings" "linux" {
  resource_group                        = oktapam_resource_group.servers.id
  project                               = oktapam_resource_group_project.linux.id
  managed_privileged_accounts           = local.updated ? ["root"] : ["root", "pamadmin"]
  enable_periodic_rotation              = !local.updated
  periodic_rotation_duration_in_seconds = local.updated ? 0 : 3600
  min_length                            = local.updated ? 8 : 12
  max_length                            = local.updated ? 12 : 16
  character_options {
    upper_case  = true
    lower_case  = true
    digits      = !local.updated
    punctuation = !local.updated
  }
}

resource "oktapam_saas_app_checkout_settings" "linux" {
  resource_group               = oktapam_resource_group.servers.id
  project                      = oktapam_resource_group_project.linux.id
  checkout_required            = true
  checkout_duration_in_seconds = local.updated ? 3600 : 900
}

resource "oktapam_sudo_command_bundle" "restart" {
  name = "${var.prefix}-restart-services"
  structured_commands {
    command      = "/usr/bin/systemctl"
    command_type = "executable"
    args_type    = "custom"
    args         = local.updated ? "restart nginx" : "restart sshd"
  }
}

resource "oktapam_security_policy" "linux_admins" {
  name        = "${var.prefix}-linux-admins"
  description = "Linux admins sign in with sudo for service restarts"
  active      = true
  principals {
    groups = [oktapam_group.linux_admins.id]
  }
  rule {
    name = "linux servers"
    resources {
      servers {
        label_selectors {
          server_labels = {
            "system.os_type" = "linux"
          }
          accounts = ["root", "pamadmin"]
        }
      }
    }
    privileges {
      password_checkout_ssh {
        enabled = true
      }
      principal_account_ssh {
        enabled                 = true
        admin_level_permissions = false
        sudo_display_name       = "restart-services"
        sudo_command_bundles    = [oktapam_sudo_command_bundle.restart.id]
      }
    }
  }
}

resource "oktapam_gateway_setup_token" "edge" {
  description = "${var.prefix} edge gateway"
  labels = {
    env = "prod"
  }
}

resource "oktapam_ad_certificate_request" "passwordless" {
  display_name = "${var.prefix}-passwordless"
  common_name  = "${var.prefix}-passwordless"
  type         = "self_signed"
  details {
    ttl_days = 30
  }
}

resource "oktapam_ad_connection" "passwordless" {
  name                     = "${var.prefix}-passwordless"
  gateway_id               = data.oktapam_gateways.all.gateways[0].id
  domain                   = "lab.example.com"
  service_account_username = "svc-opa@lab.example.com"
  service_account_password = "Svc-Lab-Passw0rd!"
  use_passwordless         = true
  certificate_id           = oktapam_ad_certificate_request.passwordless.id
  domain_controllers       = ["dc1.lab.example.com"]
}

data "oktapam_ad_connections" "by_certificate" {
  certificate_id = oktapam_ad_certificate_request.passwordless.id
  depends_on     = [oktapam_ad_connection.passwordless]
  lifecycle {
    postcondition {
      condition     = length(self.ad_connections) == 1 && self.ad_connections[0].id == oktapam_ad_connection.passwordless.id
      error_message = "GET /integrations/ad_connections?certificate_id= does not list the passwordless connection"
    }
  }
}

resource "oktapam_resource_group_server_enrollment_token" "linux" {
  resource_group = oktapam_resource_group.servers.id
  project        = oktapam_resource_group_project.linux.id
  description    = "${var.prefix} linux enrollment"
}

resource "oktapam_project" "legacy" {
  name                 = "${var.prefix}-legacy-servers"
  next_unix_uid        = 62000
  next_unix_gid        = 65000
  ssh_certificate_type = "CERT_TYPE_ED25519_01"
}

resource "oktapam_server_enrollment_token" "legacy" {
  project_name = oktapam_project.legacy.name
  description  = "${var.prefix} legacy enrollment"
}

data "oktapam_password_settings" "linux" {
  resource_group = oktapam_resource_group.servers.id
  project        = oktapam_resource_group_project.linux.id
  depends_on     = [oktapam_password_settings.linux]
  lifecycle {
    postcondition {
      condition     = self.min_length == oktapam_password_settings.linux.min_length && self.max_length == oktapam_password_settings.linux.max_length && toset(self.managed_privileged_accounts) == toset(oktapam_password_settings.linux.managed_privileged_accounts)
      error_message = "GET /server_password_settings does not read the settings back"
    }
  }
}

data "oktapam_sudo_command_bundles" "ours" {
  name       = oktapam_sudo_command_bundle.restart.name
  depends_on = [oktapam_sudo_command_bundle.restart]
  lifecycle {
    postcondition {
      condition     = length(self.ids) == 1 && self.ids[0] == oktapam_sudo_command_bundle.restart.id
      error_message = "GET /sudo_command_bundles does not list the bundle by name"
    }
  }
}

data "oktapam_sudo_command_bundle" "restart" {
  id         = oktapam_sudo_command_bundle.restart.id
  depends_on = [oktapam_sudo_command_bundle.restart]
  lifecycle {
    postcondition {
      condition     = self.name == oktapam_sudo_command_bundle.restart.name && length(self.structured_commands) == 1
      error_message = "GET /sudo_command_bundles/{id} does not read the bundle back"
    }
  }
}

data "oktapam_gateway_setup_tokens" "edge" {
  description_contains = "edge gateway"
  depends_on           = [oktapam_gateway_setup_token.edge]
  lifecycle {
    postcondition {
      condition     = length(self.ids) == 1 && self.ids[0] == oktapam_gateway_setup_token.edge.id
      error_message = "GET /gateway_setup_tokens does not list the token by description"
    }
  }
}

data "oktapam_gateway_setup_token" "edge" {
  id         = oktapam_gateway_setup_token.edge.id
  depends_on = [oktapam_gateway_setup_token.edge]
  lifecycle {
    postcondition {
      condition     = self.description == oktapam_gateway_setup_token.edge.description && self.labels == oktapam_gateway_setup_token.edge.labels && self.token == oktapam_gateway_setup_token.edge.token
      error_message = "GET /gateway_setup_tokens/{id} does not read the token back"
    }
  }
}
