metadata description = 'User-assigned managed identity of the auditor: the Function App runs as it, and it is the only principal that receives roles.'

// ---------- Parameters ----------

@description('Name of the user-assigned managed identity.')
param name string

@description('Azure region of the identity.')
param location string

@description('Tags applied to the identity.')
param tags { *: string }

// ---------- Resources ----------

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: name
  location: location
  tags: tags
}

// ---------- Outputs ----------

@description('Resource ID of the identity.')
output id string = identity.id

@description('Name of the identity.')
output name string = identity.name

@description('Client (application) ID of the identity, used by DefaultAzureCredential and Entra ID authentication to Application Insights.')
output clientId string = identity.properties.clientId

@description('Object (principal) ID of the identity, the principal of every role assignment.')
output principalId string = identity.properties.principalId
