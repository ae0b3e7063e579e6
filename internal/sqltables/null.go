package sqltables

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/test_driver"
)

// nullableAggregate names the aggregate that can make the value stmts return NULL, or is
// "". SUM, AVG, MIN and MAX of no rows (an empty table, a WHERE that matches nothing) are
// NULL, and KEDA fails the poll on NULL ("converting NULL to float64 is unsupported")
// exactly when there is nothing to scale for: such a query works in testing and fails
// in quiet hours. COUNT is never NULL; COALESCE or IFNULL with a value that is not NULL
// ends it. Only what the first column's expression computes is followed: a column of a
// table may be NULL too, but that is the data's business, not the query's shape.
func nullableAggregate(stmts []ast.StmtNode) string {
	if len(stmts) != 1 {
		return ""
	}
	sel, ok := stmts[0].(*ast.SelectStmt)
	if !ok || sel.Fields == nil || len(sel.Fields.Fields) == 0 || sel.Fields.Fields[0].Expr == nil {
		return ""
	}
	return nullable(sel.Fields.Fields[0].Expr)
}

// nullable is what nullableAggregate says of one expression.
func nullable(e ast.ExprNode) string {
	switch e := e.(type) {
	case *ast.AggregateFuncExpr:
		switch f := strings.ToUpper(e.F); f {
		case "SUM", "AVG", "MIN", "MAX":
			return f
		}
		return ""
	case *ast.ParenthesesExpr:
		return nullable(e.Expr)
	case *ast.BinaryOperationExpr:
		return firstOf(nullable(e.L), nullable(e.R))
	case *ast.UnaryOperationExpr:
		return nullable(e.V)
	case *ast.SubqueryExpr:
		if sel, ok := e.Query.(*ast.SelectStmt); ok {
			return nullableAggregate([]ast.StmtNode{sel})
		}
		return ""
	case *ast.FuncCallExpr:
		switch strings.ToLower(e.FnName.L) {
		case "coalesce", "ifnull":
			// NULL only when every argument is.
			agg := ""
			for _, arg := range e.Args {
				a := nullable(arg)
				if a == "" && !isNullLiteral(arg) {
					return ""
				}
				agg = firstOf(agg, a)
			}
			return agg
		}
		for _, arg := range e.Args {
			if a := nullable(arg); a != "" {
				return a // CEIL(SUM(x) / 6) is NULL when SUM is
			}
		}
	}
	return ""
}

func isNullLiteral(e ast.ExprNode) bool {
	v, ok := e.(*test_driver.ValueExpr)
	return ok && v.Datum.Kind() == test_driver.KindNull
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
