metadata description = 'The one map of built-in Azure role definition IDs this solution assigns, keyed by the official role name. Import it; never write a role GUID anywhere else.'

// ---------- Variables ----------

@export()
@description('Built-in role definition IDs (GUIDs) keyed by the official role name. The auditor needs read access to the estate and data access to its own storage only.')
var roleDefinitionIds = {
  Reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
  'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb'
}
