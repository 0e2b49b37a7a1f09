# Generates the probes behind int_ctype_errors.jsonl: every integer member of
# every command jobsim implements, with a string, 1.5, -1, 2^32, 2^64-1, 2^64.
# usage: python3 int_ctype_probe.py COMMA,SEPARATED,COMMANDS  (writes /tmp/rs/probes.jsonl);
# feed the probes after qmp_capabilities to qemu-storage-daemon and keep the
# "expects" answers.
import json, subprocess, sys, copy
d=json.load(open('qmp/schema/qemu-7.2.json'))
T={x['name']:x for x in d['schema']}
cmds={x['name']:x for x in d['schema'] if x['meta-type']=='command'}
implemented=sys.argv[1].split(',')
def minimal(t, depth=0):
    if t.startswith('['): return []
    e=T[t]; m=e['meta-type']
    if m=='builtin':
        return {'str':'a','int':1,'bool':True,'number':1,'null':None,'any':1}[e['name']]
    if m=='enum': return e['values'][0]
    if m=='array': return []
    if m=='alternate':
        ms=sorted(e['members'], key=lambda a: T[a['type']]['meta-type']!='builtin')
        return minimal(ms[0]['type'], depth+1)
    if m=='object': return minimal_obj(e, None, depth)
def minimal_obj(e, tagval, depth):
    o={}
    for mem in e['members']:
        if 'default' in mem: continue  # optional
        o[mem['name']]=minimal(mem['type'], depth+1)
    if 'tag' in e:
        tv = tagval if tagval is not None else o[e['tag']]
        o[e['tag']]=tv
        for v in e.get('variants',[]):
            if v['case']==tv:
                o.update(minimal_obj(T[v['type']], None, depth+1))
    return o
# enumerate int member paths: yields (base_obj, path list)
def walk(e, tagval, path, depth, out, base_builder):
    if depth>1: return
    members=list(e['members'])
    variants=[]
    if 'tag' in e:
        tagmem=[m for m in e['members'] if m['name']==e['tag']][0]
        vals=[tagval] if tagval is not None else T[tagmem['type']]['values']
        for tv in vals:
            for v in e.get('variants',[]):
                if v['case']==tv:
                    variants.append((tv, T[v['type']]))
    for tv in ([None] if not variants else [v[0] for v in variants]):
        allm=list(members)
        if tv is not None:
            allm += [m for v in variants if v[0]==tv for m in v[1]['members']]
        for mem in allm:
            t=mem['type']
            p=path+[(mem['name'], e, tv)]
            if t.startswith('['):
                continue
            te=T[t]
            if te['meta-type']=='builtin' and te['name']=='int':
                out.append(p)
            elif te['meta-type']=='object':
                walk(te, None, p, depth+1, out, base_builder)
            elif te['meta-type']=='alternate':
                for am in te['members']:
                    ae=T[am['type']]
                    if ae['meta-type']=='builtin' and ae['name']=='int': out.append(p)
                    pass
def build(path):
    # construct object along path with minimal values
    root={}
    def fill(e, tv, o):
        m=minimal_obj(e, tv, 0) if tv is not None else minimal_obj(e, None, 0)
        o.update(m)
    obj=None
    cur=None
    for i,(name,e,tv) in enumerate(path):
        if i==0:
            obj=minimal_obj(e, tv, 0); cur=obj
        if tv is not None: cur[e['tag']]=tv
        # ensure variant required members present
        tmp=minimal_obj(e, tv if tv is not None else (cur.get(e.get('tag')) if 'tag' in e else None),0)
        for k,v in tmp.items(): cur.setdefault(k,v)
        if i<len(path)-1:
            nxt=path[i+1][1]
            if name not in cur or not isinstance(cur[name], dict):
                cur[name]={}
            cur=cur[name]
            tmp=minimal_obj(nxt, path[i+1][2], 0)
            for k,v in tmp.items(): cur.setdefault(k,v)
        else:
            return obj, cur, name
probes=["x", 1.5, -1, 4294967296, 18446744073709551615, 18446744073709551616]
lines=[]
for c in implemented:
    if c not in cmds: continue
    at=T[cmds[c]['arg-type']]
    out=[]
    walk(at, None, [], 0, out, None)
    seen=set()
    for p in out:
        key=(c,)+tuple((n,tv) for n,_,tv in p)
        if key in seen: continue
        seen.add(key)
        for pv in probes:
            obj,cur,name=build(p)
            cur[name]=pv
            lines.append(json.dumps({"execute":c,"arguments":obj}))
open('/tmp/rs/probes.jsonl','w').write("\n".join(lines)+"\n")
print(len(lines), file=sys.stderr)
