metadata description = 'Log alert on Application Insights: fires when an audit run reports a new or newly failing, non-exempt finding of severity high or critical. The e-mail action group is created only when an address is given.'

// ---------- Parameters ----------

@description('Azure region of the alert rule.')
param location string

@description('Tags applied to the alert resources.')
param tags { *: string }

@description('Name of the Application Insights component the alert queries.')
param applicationInsightsName string

@description('Name of the scheduled query rule.')
param alertName string

@description('Name of the action group (used only when alertEmail is given).')
param actionGroupName string

@description('E-mail address notified when the alert fires; empty creates no action group.')
param alertEmail string = ''

@description('How often the rule runs (ISO 8601 duration). It looks back one hour, so late-ingested events are not missed; the alert is stateful, so overlapping windows notify once.')
@allowed([
  'PT5M'
  'PT15M'
  'PT30M'
  'PT1H'
])
param evaluationFrequency string = 'PT15M'

@description('Severity of the fired alert (0 critical to 4 verbose).')
@minValue(0)
@maxValue(4)
param alertSeverity int = 1

// ---------- Variables ----------

@description('KQL over the FindingChanged events the auditor emits (dimension names from src/adapters/telemetry/names.ts); one row per finding that needs attention.')
var query = '''
customEvents
| where name == "FindingChanged"
| extend status = tostring(customDimensions.status), change = tostring(customDimensions.change), severity = tostring(customDimensions.severity), exempt = tostring(customDimensions.exempt)
| where status == "fail" and change in ("new", "changed") and severity in ("high", "critical") and exempt != "true"
| project timestamp, ruleId = tostring(customDimensions.ruleId), severity, change, clusterId = tostring(customDimensions.clusterId), registryId = tostring(customDimensions.registryId), subscriptionId = tostring(customDimensions.subscriptionId)
'''

// ---------- Existing resources ----------

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// ---------- Resources ----------

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'acraudit'
    enabled: true
    emailReceivers: [
      {
        name: 'audit-owner'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource findingAlert 'Microsoft.Insights/scheduledQueryRules@2026-03-01' = {
  name: alertName
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'AKS cannot pull from an attached ACR (new high or critical finding)'
    description: 'An audit run found a new or changed failing AKS to ACR pull finding of severity high or critical that is not exempt. See the AKS to ACR pull audit workbook.'
    severity: alertSeverity
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: evaluationFrequency
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: query
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: empty(alertEmail) ? [] : [actionGroup.id]
    }
  }
}

// ---------- Outputs ----------

@description('Resource ID of the scheduled query rule.')
output alertId string = findingAlert.id

@description('Resource ID of the action group, or an empty string when none was created.')
output actionGroupId string = empty(alertEmail) ? '' : actionGroup.id
