# __generated__ by Terraform
# Please review these resources and move them into your main configuration files.

# __generated__ by Terraform
resource "sensu_api_key" "ci_bot_0" {
  provider       = sensu
  keepers        = null
  key_wo         = null # sensitive
  key_wo_version = null
  name           = null
  username       = "ci-bot"
}

import {
  to       = sensu_api_key.ci_bot_0
  provider = sensu
  identity = {
    id = "surelyworkablemullet"
  }
}
