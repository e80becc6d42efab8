# Sensu Go 7.x: import by the key's name, as `sensuctl api-key list` shows it.
# The secret cannot be read back, so the imported key's `key` attribute stays null.
terraform import sensu_api_key.ci surelyworkablemullet

# Sensu Go 6.x: import by the key's id, the hex SHA-256 digest of the key. The provider finds
# the key and restores it into the state.
terraform import sensu_api_key.ci a6fa043b4797f896ba4bc06ead58037bddbfbbc73885933b6b0bae40d485d776

# On 6.x, `sensuctl api-key list` shows the keys themselves; compute the digest of one with:
printf '%s' "$SENSU_KEY" | sha256sum | cut -d ' ' -f 1
