// Mesh Compose: the demo CRM and ticket system, each from its OpenAPI document, composed into one
// supergraph. Joins across REST calls are @resolveTo extensions, Mesh's documented declarative form;
// those that need a list built from the parent (batch reads) are in gateway.config.ts.
import { defineConfig } from '@graphql-mesh/compose-cli'
import { loadOpenAPISubgraph } from '@omnigraph/openapi'

const zendeskAuth = Buffer.from('api@demo.crmgraph.test/token:demo-zendesk-token').toString('base64')

export const composeConfig = defineConfig({
  output: process.env.PEER_SUPERGRAPH ?? 'supergraph.graphql',
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('crm', {
        source: './crm.openapi.yaml',
        endpoint: process.env.PEER_CRM_URL,
        operationHeaders: { Authorization: 'Bearer demo-crm-token' },
        selectQueryOrMutationField: [
          { type: 'query', fieldName: 'batchReadContacts' },
          { type: 'query', fieldName: 'batchReadDeals' },
        ],
      }),
    },
    {
      sourceHandler: loadOpenAPISubgraph('tickets', {
        source: './tickets.openapi.yaml',
        endpoint: process.env.PEER_TICKETS_URL,
        operationHeaders: { Authorization: `Basic ${zendeskAuth}` },
      }),
    },
  ],
  additionalTypeDefs: /* GraphQL */ `
    extend type Company {
      owner: Owner
        @resolveTo(
          sourceName: "crm"
          sourceTypeName: "Query"
          sourceFieldName: "getOwner"
          requiredSelectionSet: "{ properties { hubspot_owner_id } }"
          sourceArgs: { ownerId: "{root.properties.hubspot_owner_id}" }
        )
    }
    extend type Ticket {
      comments: CommentList
        @resolveTo(
          sourceName: "tickets"
          sourceTypeName: "Query"
          sourceFieldName: "ticketComments"
          requiredSelectionSet: "{ id }"
          sourceArgs: { ticketId: "{root.id}" }
        )
    }
  `,
})
