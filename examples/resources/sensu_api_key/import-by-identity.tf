# Terraform 1.12 and later: import by identity, as the configuration that
# `terraform query -generate-config-out` writes does. The identity's id is the key's id.

# Sensu Go 7.x: the key's name.
import {
  to = sensu_api_key.ci
  identity = {
    id = "surelyworkablemullet"
  }
}

# Sensu Go 6.x: the hex SHA-256 digest of the key, never the key itself.
import {
  to = sensu_api_key.legacy
  identity = {
    id = "a6fa043b4797f896ba4bc06ead58037bddbfbbc73885933b6b0bae40d485d776"
  }
}
