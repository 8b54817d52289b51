// jsforce (Node), unmodified, the way its users call it: identity, query, describe, a REST update, a Bulk API 2.0
// update and a Bulk API 1.0 update. Reads SF_INSTANCE_URL, SF_ACCESS_TOKEN and the ids to update (JSON, argv[2]);
// prints one JSON document of what jsforce reported. The Python test checks the org's stored data itself.
const jsforce = require("jsforce");

async function main() {
  const ids = JSON.parse(process.argv[2]);
  const conn = new jsforce.Connection({
    instanceUrl: process.env.SF_INSTANCE_URL,
    accessToken: process.env.SF_ACCESS_TOKEN,
    version: "62.0",
  });
  conn.bulk.pollInterval = 100;
  conn.bulk2.pollInterval = 100;
  const identity = await conn.identity();
  const query = await conn.query("SELECT Id, Tweets__c FROM Byline__c ORDER BY Id");
  const describe = await conn.sobject("Byline__c").describe();
  const rest = await conn.sobject("Byline__c").update({ Id: ids[0], Tweets__c: 501 });
  const csv = "Id,Tweets__c\n" + ids.slice(1, 3).map((id) => `${id},502`).join("\n") + "\n";
  const bulk2 = await conn.bulk2.loadAndWaitForResults({ object: "Byline__c", operation: "update", input: csv });
  const bulk1 = await conn.bulk.load("Byline__c", "update", ids.slice(3).map((id) => ({ Id: id, Tweets__c: 503 })));
  console.log(JSON.stringify({
    organizationId: identity.organization_id,
    queried: query.records.map((r) => r.Id),
    totalSize: query.totalSize,
    fields: describe.fields.map((f) => f.name),
    rest,
    bulk2: { successful: bulk2.successfulResults.length, failed: bulk2.failedResults.length, unprocessed: bulk2.unprocessedRecords.length },
    bulk1: bulk1.map((r) => ({ id: r.id, success: r.success })),
  }));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
