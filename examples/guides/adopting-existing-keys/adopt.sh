# 1. Find the keys (Terraform 1.14 or later). Nothing is changed.
terraform query

# 2. Write an import block and a resource block for each key found.
terraform query -generate-config-out=generated.tf

# 3. Review generated.tf (see below), then import. The plan must say "N to import, 0 to add".
terraform plan
terraform apply

# 4. The keys are now managed: the next plan is empty, and destroy revokes them.
terraform plan -detailed-exitcode
