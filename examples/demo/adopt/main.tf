# `make demo` adopts a key granted outside Terraform with this configuration (Terraform 1.14+):
# `terraform query` finds it through adopt.tfquery.hcl and writes the import configuration.
terraform {
  required_providers {
    sensu = { source = "sensu-community/sensu" }
  }
}

variable "username" {
  type    = string
  default = "admin"
}

provider "sensu" {}
