# An Active Directory setup as a team would write it with Okta's Terraform provider
# (okta/oktapam), applied and destroyed against opaserver by scripts/test-terraform.sh.
# Issue 17's aim: a resource group, a project, an AD connection with server and user sync jobs,
# UD checkout settings, a service user, and a security policy granting checkout.
#
# The provider is configured from the environment (OKTAPAM_API_HOST, OKTAPAM_KEY, OKTAPAM_SECRET,
# OKTAPAM_TEAM, OKTAPAM_TRUSTED_DOMAIN_OVERRIDE); the key is the fixture's service user
# (fixture.json), which holds the admin roles.

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

# scripts/test-terraform.sh applies revision 1, then 2, which changes a setting of every resource
# that can change in place (the update routes), then 3, which deactivates the server sync job (the
# provider sends a deactivation alone, without the schedule, so it gets a step of its own).
variable "revision" {
  description = "revision of the setup: 1, 2 or 3"
  type        = number
  default     = 1
}

locals {
  updated = var.revision >= 2
}

# The gateway the AD connection and the server sync go through: the first one the team has.
data "oktapam_gateways" "all" {}

# Who administers the resource group, and who may check accounts out.
resource "oktapam_group" "rg_admins" {
  name = "${var.prefix}-rg-admins"
}

resource "oktapam_group" "operators" {
  name  = "${var.prefix}-operators"
  roles = ["end_user"]
}

# A resource group and its project, with Okta Universal Directory checkout settings.
resource "oktapam_resource_group" "infra" {
  name                            = "${var.prefix}-infra"
  description                     = local.updated ? "Infrastructure managed by Terraform, revised" : "Infrastructure managed by Terraform"
  delegated_resource_admin_groups = [oktapam_group.rg_admins.id]
}

resource "oktapam_resource_group_project" "accounts" {
  name                 = "${var.prefix}-accounts"
  resource_group       = oktapam_resource_group.infra.id
  ssh_certificate_type = "CERT_TYPE_ED25519_01"
  account_discovery    = true
}

resource "oktapam_okta_universal_directory_checkout_settings" "accounts" {
  resource_group               = oktapam_resource_group.infra.id
  project                      = oktapam_resource_group_project.accounts.id
  checkout_required            = true
  checkout_duration_in_seconds = local.updated ? 3600 : 900
}

# The ASA project the server sync job enrolls the domain's computers into.
resource "oktapam_project" "servers" {
  name                 = "${var.prefix}-ad-servers"
  next_unix_uid        = 61000
  next_unix_gid        = 64000
  create_server_users  = true
  ssh_certificate_type = "CERT_TYPE_ED25519_01"
  forward_traffic      = !local.updated
  gateway_selector     = local.updated ? "env=staging" : "env=prod"
}

# The operators reach the synced servers through the ASA project (admins from revision 2 on).
resource "oktapam_project_group" "operators" {
  project_name        = oktapam_project.servers.name
  group_name          = oktapam_group.operators.name
  server_access       = true
  server_admin        = local.updated
  create_server_group = false
}

# The AD connection, with a server sync job and a user sync job.
resource "oktapam_ad_connection" "corp" {
  name                     = "${var.prefix}-corp"
  gateway_id               = data.oktapam_gateways.all.gateways[0].id
  domain                   = "corp.example.com"
  service_account_username = "svc-opa@corp.example.com"
  service_account_password = "Svc-Opa-Passw0rd!"
  use_passwordless         = false
  domain_controllers       = local.updated ? ["dc1.corp.example.com", "dc2.corp.example.com", "dc3.corp.example.com"] : ["dc1.corp.example.com", "dc2.corp.example.com"]
}

resource "oktapam_ad_task_settings" "servers" {
  connection_id            = oktapam_ad_connection.corp.id
  name                     = "${var.prefix}-server-sync"
  is_active                = var.revision < 3
  frequency                = local.updated ? 24 : 12
  start_hour_utc           = local.updated ? 6 : null
  host_name_attribute      = "dNSHostName"
  access_address_attribute = "dNSHostName"
  os_attribute             = "operatingSystem"
  rule_assignments {
    base_dn           = "OU=Servers,DC=corp,DC=example,DC=com"
    ldap_query_filter = "(objectClass=computer)"
    project_id        = oktapam_project.servers.id
    priority          = 1
  }
}

resource "oktapam_ad_user_sync_task_settings" "users" {
  connection_id     = oktapam_ad_connection.corp.id
  name              = "${var.prefix}-user-sync"
  is_active         = !local.updated
  frequency         = local.updated ? 24 : 12
  start_hour_utc    = local.updated ? 3 : null
  base_dn           = "OU=Users,DC=corp,DC=example,DC=com"
  ldap_query_filter = "(objectClass=user)"
}

# A service user for a pipeline (the provider manages the user; it has no resource for API keys).
resource "oktapam_user" "deployer" {
  name      = "${var.prefix}-deployer"
  user_type = "service"
  status    = local.updated ? "DISABLED" : "ACTIVE"
}

# The pipeline's service user is one of the operators.
resource "oktapam_user_group_attachment" "deployer_operators" {
  group    = oktapam_group.operators.name
  username = oktapam_user.deployer.name
}

# The security policy: operators check out the shared accounts on the synced Windows servers.
# The provider's policy resources write server-based and secret-based rules only (its
# active_directory_based_resource selector is not implemented), so the checkout is granted on the
# servers the AD server sync enrolls rather than on AD accounts directly.
resource "oktapam_security_policy_v2" "checkout" {
  type           = "default"
  name           = "${var.prefix}-ad-checkout"
  description    = "Operators check out shared accounts on the domain's servers"
  active         = !local.updated
  resource_group = oktapam_resource_group.infra.id
  principals = {
    user_groups = [oktapam_group.operators.id]
  }
  rules = [
    {
      name          = "windows server accounts"
      resource_type = "server_based_resource"
      resource_selector = {
        server_based_resource = {
          selectors = [
            {
              server_label = {
                account_selector_type = "username"
                account_selector = {
                  usernames = ["Administrator"]
                }
                server_selector = {
                  labels = {
                    "system.os_type" = "windows"
                  }
                }
              }
            }
          ]
        }
      }
      privileges = [
        {
          password_checkout_rdp = {
            password_checkout_rdp = true
          }
        }
      ]
    }
  ]
}

# The same grant written with the provider's older policy resource (its hand-written client, no
# _type tags on the wire), with the conditions that resource knows: an access request, and from
# revision 2 on session recording through the gateway.
resource "oktapam_security_policy" "checkout_v1" {
  name        = "${var.prefix}-ad-checkout-v1"
  description = local.updated ? "Checkout through the gateway, recorded" : "Checkout after an access request"
  active      = true
  principals {
    groups = [oktapam_group.operators.id]
  }
  rule {
    name = "windows server accounts"
    resources {
      servers {
        label_selectors {
          server_labels = {
            "system.os_type" = "windows"
          }
          accounts = ["Administrator"]
        }
      }
    }
    privileges {
      password_checkout_rdp {
        enabled = true
      }
    }
    conditions {
      access_request {
        request_type_id       = "ad-checkout"
        request_type_name     = "AD server checkout"
        expires_after_seconds = 3600
      }
      dynamic "gateway" {
        for_each = local.updated ? [1] : []
        content {
          traffic_forwarding = true
          session_recording  = true
        }
      }
    }
  }
}
