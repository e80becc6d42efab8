# keys.tf: the generated blocks after review, with a name that says what the key is for.
resource "sensu_api_key" "deploy_pipeline" {
  username = "ci-bot"
}

import {
  to = sensu_api_key.deploy_pipeline
  identity = {
    id = "surelyworkablemullet" # Sensu Go 6.x: the 64-digit digest the query listed
  }
}
