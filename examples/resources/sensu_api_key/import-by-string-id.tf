# Sensu Go 7.x: import by the key's name.
import {
  to = sensu_api_key.ci
  id = "surelyworkablemullet"
}

# Sensu Go 6.x: import by the hex SHA-256 digest of the key.
import {
  to = sensu_api_key.legacy
  id = "a6fa043b4797f896ba4bc06ead58037bddbfbbc73885933b6b0bae40d485d776"
}
