"""The emulator's SOQL engine: `parse` text into an AST, `compile_query` it against a Schema into SQLite SQL.

    q = parse("SELECT Id, Name FROM Byline__c WHERE Tweets__c > 5 ORDER BY Name LIMIT 10")
    cq = compile_query(q, schema)          # InvalidType / InvalidField / MalformedQuery
    for row in cq.rows(store): ...         # {"__id": ..., "Name": ...}

The parser never sees the schema or the store; only `CompiledQuery.rows` touches the store.
"""

from .compiler import CompiledQuery, SelectedColumn, compile_query, date_range
from .parser import Query, parse, to_soql

__all__ = ["CompiledQuery", "Query", "SelectedColumn", "compile_query", "date_range", "parse", "to_soql"]
