package golang

import (
	"slices"
	"testing"

	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/runtime/config"
)

// projected is a package whose stream orders reads, of com.ex.Order, its
// id, its customer's name and its optional shipTo's city, and skips the
// rest: a field of each kind the skipper handles.
func projected() (*model.Package, *model.Stream) {
	p := allTypes()
	p.Name = "proj"
	address := record("com.ex.Address", "Address", "{}",
		fld("street", "Street", prim(model.String), ""),
		fld("city", "City", prim(model.String), ""))
	customer := record("com.ex.Customer", "Customer", "{}",
		fld("name", "Name", prim(model.String), ""),
		fld("tier", "Tier", prim(model.Int), ""),
		fld("home", "Home", ref(address), ""))
	line := record("com.ex.Line", "Line", "{}",
		fld("sku", "SKU", prim(model.String), ""),
		fld("qty", "Qty", prim(model.Long), ""))
	ev := named(p, "Event")
	order := record("com.ex.Order", "Order", "{}",
		fld("id", "ID", prim(model.String), ""),
		fld("customer", "Customer", ref(customer), ""),
		fld("amount", "Amount", prim(model.Double), ""),
		fld("weight", "Weight", prim(model.Float), ""),
		fld("paid", "Paid", prim(model.Boolean), ""),
		fld("lines", "Lines", arrayOf(ref(line)), ""),
		fld("attrs", "Attrs", mapOf(prim(model.Bytes)), ""),
		fld("color", "Color", ref(named(p, "Color")), ""),
		fld("hash", "Hash", ref(named(p, "MD5")), ""),
		fld("payload", "Payload", ev.Fields[14].Type, "null"),
		fld("note", "Note", optional(prim(model.Long), 0), "null"),
		fld("shipTo", "ShipTo", optional(ref(address), 0), "null"),
		fld("total", "Total", prim(model.Long), ""),
	)
	p.Named = append(p.Named, address, customer, line, order)
	sub := &model.Projection{GoName: "OrdersValueCustomer", Record: customer, Paths: []string{"customer.name"},
		Fields: []*model.ProjectedField{{Field: customer.Fields[0]}}}
	ship := &model.Projection{GoName: "OrdersValueShipTo", Record: address, Paths: []string{"shipTo.city"},
		Fields: []*model.ProjectedField{{Field: address.Fields[1]}}}
	pr := &model.Projection{GoName: "OrdersValue", Record: order, Paths: []string{"id", "customer.name", "shipTo.city", "total"},
		Fields: []*model.ProjectedField{
			{Field: order.Fields[0]},
			{Field: order.Fields[1], Sub: sub},
			{Field: order.Fields[11], Sub: ship},
			{Field: order.Fields[12]},
		}}
	s := &model.Stream{Name: "orders", GoName: "Orders", Key: prim(model.String), Value: ref(order), Projection: pr, Consumer: subscribe("orders"),
		// A projected stream's writers are transcoded into the record's
		// encoding: no writer decoder of the whole record is generated.
		Encoding: model.Raw, WriterSchema: `{"type":"record","name":"com.ex.Order","fields":[]}`, WriterSchemaFile: "old.avsc"}
	p.Streams = []*model.Stream{s}
	p.Job = model.Job{Name: "proj", Config: config.Default()}
	return p, s
}

// TestProjection: a projection is a type holding the fields listed,
// nested records narrowed in turn, decoded from the record's encoding by
// skipping the others; it reads, but does not write.
func TestProjection(t *testing.T) {
	p, _ := projected()
	g := generate(t, p)
	for _, c := range []struct{ typ, field, want string }{
		{"OrdersValue", "ID", "string"},
		{"OrdersValue", "Customer", "OrdersValueCustomer"},
		{"OrdersValue", "ShipTo", "*OrdersValueShipTo"},
		{"OrdersValue", "Total", "int64"},
		{"OrdersValue", "Amount", ""},
		{"OrdersValueCustomer", "Name", "string"},
		{"OrdersValueCustomer", "Tier", ""},
		{"OrdersValueShipTo", "City", "string"},
	} {
		if got := g.fieldType(c.typ, c.field); got != c.want {
			t.Errorf("%s.%s is %q, want %q", c.typ, c.field, got, c.want)
		}
	}
	g.hasMethods(t, "OrdersValue", "UnmarshalAvro", "UnmarshalAvroFrom", "AvroSchema", "AppendAvro", decodeAvroHelper)
	g.hasMethods(t, "OrdersValueCustomer", decodeAvroHelper)
	contains(t, "types.go", g.src["types.go"],
		"// OrdersValue is the part of com.ex.Order that stream orders reads,\n// the fields its spec lists: id, customer.name, shipTo.city, total.",
		"// OrdersValueCustomer is the part of com.ex.Customer that stream orders reads:\n// customer.name.",
		"// Avro com.ex.Customer, only the fields listed")
	contains(t, "OrdersValue.AvroSchema", g.fn("*OrdersValue", "AvroSchema"), "return OrderSchema")
	contains(t, "OrdersValue.AppendAvro", g.fn("*OrdersValue", "AppendAvro"),
		"OrdersValue is a projection of stream orders, holding only the fields the job reads; encode Order values instead")
	contains(t, "OrdersValue.UnmarshalAvroFrom", g.fn("*OrdersValue", "UnmarshalAvroFrom"), "sgOrderResolver().ForWriter(writerSchema)")

	dec := g.fn("*OrdersValue", decodeAvroHelper)
	contains(t, "OrdersValue.sgDecodeAvro", dec,
		"r.ID = d.StringAlone()", // strings kept alone: no copy of what is skipped
		"r.Customer.sgDecodeAvro(d)",
		"// amount: skipped\n\td.Double()",
		"// weight: skipped\n\td.Float()",
		"// paid: skipped\n\td.Bool()",
		"// lines: skipped\n\tfor n", ":= d.SkipBlock(2); n", "sgSkipLine(d)",
		"// attrs: skipped\n\tfor n", ":= d.SkipBlock(2); n", "d.SkipBytes()\n\t\t\td.SkipBytes()",
		"// color: skipped\n\td.Enum(3)",
		"// hash: skipped\n\td.SkipFixed(4)",
		"// payload: skipped\n\tswitch d.UnionIndex(3) {\n\tcase 1:\n\t\td.SkipBytes()\n\tcase 2:\n\t\tsgSkipInner(d)",
		"// note: skipped\n\tif d.UnionIndex(2) == 1 {\n\t\td.Long()",
		"switch d.UnionIndex(2) {\n\tcase 0:\n\t\tr.ShipTo = nil\n\tcase 1:", "if r.ShipTo == nil {\n\t\tr.ShipTo = new(OrdersValueShipTo)", "r.ShipTo.sgDecodeAvro(d)",
		"r.Total = d.Long()")
	contains(t, "OrdersValueCustomer.sgDecodeAvro", g.fn("*OrdersValueCustomer", decodeAvroHelper),
		"r.Name = d.StringAlone()", "// tier: skipped\n\td.Long()", "// home: skipped\n\tsgSkipAddress(d)")
	// Skip functions for each record skipped whole, nested ones too.
	contains(t, "sgSkipLine", g.fn("", "sgSkipLine"), "d.SkipBytes()\n\td.Long()")
	contains(t, "sgSkipAddress", g.fn("", "sgSkipAddress"), "d.SkipBytes()\n\td.SkipBytes()")
	contains(t, "sgSkipInner", g.fn("", "sgSkipInner"), "d.Long()\n\td.SkipBytes()")
	if g.fn("", "sgSkipOrder") != "" || g.fn("", "sgSkipCustomer") != "" {
		t.Error("a skip function for a record that is never skipped whole")
	}

	// The stream's values are the projection; its writer schema is read
	// through the record's resolver, not a writer decoder of Order.
	contains(t, "Run", g.fn("", "Run"), runtimeAlias+".RawAvroFromInto[OrdersValue](OrdersWriterSchema)")
	if got := g.typeOf("OrdersBatch"); got == "" {
		t.Error("no OrdersBatch")
	}
	if got := g.fieldType("Batch", "Orders"); got != "*OrdersBatch" {
		t.Errorf("Batch.Orders is %q", got)
	}
	lacks(t, "codec.go", g.src["codec.go"], "func (r *Order) sgUnmarshalAvro")
}

// TestProjections: a package's projections, each stream's outermost
// first, then those nested in it.
func TestProjections(t *testing.T) {
	p, s := projected()
	var got []string
	for _, pr := range projections(p) {
		got = append(got, pr.GoName)
	}
	if want := []string{"OrdersValue", "OrdersValueCustomer", "OrdersValueShipTo"}; !slices.Equal(got, want) {
		t.Errorf("projections: %v, want %v", got, want)
	}
	if got := render(streamValueType(s)); got != "OrdersValue" {
		t.Errorf("streamValueType: %s", got)
	}
	s.Projection = nil
	if got := render(streamValueType(s)); got != "Order" {
		t.Errorf("streamValueType without projection: %s", got)
	}
}
