# The provider's data sources over what main.tf created (and the fixture's 120 "paging-" groups,
# more than one page of 100): the list routes with their filters and Link paging, read the way the
# provider reads them. A postcondition that does not hold fails the apply.

data "oktapam_current_user" "me" {
  lifecycle {
    postcondition {
      condition     = self.name == "terraform"
      error_message = "current_user is not the fixture's service user"
    }
  }
}

data "oktapam_groups" "paging" {
  contains = "paging-"
  lifecycle {
    postcondition {
      condition     = length(self.names) == 120 && length(distinct(self.names)) == 120
      error_message = "GET /groups?contains=paging- did not page through exactly the fixture's 120 groups"
    }
  }
}

data "oktapam_groups" "ours" {
  contains   = "${var.prefix}-"
  depends_on = [oktapam_group.rg_admins, oktapam_group.operators]
  lifecycle {
    postcondition {
      condition     = toset(self.names) == toset([oktapam_group.rg_admins.name, oktapam_group.operators.name])
      error_message = "GET /groups?contains= does not list exactly the groups this configuration created"
    }
  }
}

data "oktapam_projects" "ours" {
  contains   = "${var.prefix}-"
  depends_on = [oktapam_project.servers]
  lifecycle {
    postcondition {
      condition     = length(self.names) == 1 && self.names[0] == oktapam_project.servers.name
      error_message = "GET /projects?contains= does not list the ASA project"
    }
  }
}

data "oktapam_ad_connections" "via_gateway" {
  gateway_id = data.oktapam_gateways.all.gateways[0].id
  depends_on = [oktapam_ad_connection.corp]
  lifecycle {
    postcondition {
      condition     = length(self.ad_connections) == 1 && self.ad_connections[0].id == oktapam_ad_connection.corp.id
      error_message = "GET /integrations/ad_connections?gateway_id= does not list the AD connection"
    }
  }
}

data "oktapam_ad_user_sync_task_settings_id_list" "users" {
  connection_id = oktapam_ad_connection.corp.id
  depends_on    = [oktapam_ad_user_sync_task_settings.users]
  lifecycle {
    postcondition {
      condition     = length(self.ad_user_sync_task_settings_id_list) == 1 && self.ad_user_sync_task_settings_id_list[0] == oktapam_ad_user_sync_task_settings.users.id
      error_message = "GET /user_sync_task_settings does not list the user sync job"
    }
  }
}

data "oktapam_security_policies" "ours" {
  name       = oktapam_security_policy_v2.checkout.name
  depends_on = [oktapam_security_policy_v2.checkout]
  lifecycle {
    postcondition {
      condition     = length(self.ids) == 1 && self.ids[0] == oktapam_security_policy_v2.checkout.id
      error_message = "GET /security_policy (the v1 reader) does not list the policy"
    }
  }
}
